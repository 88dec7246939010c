// An image handed to the classifier: the bytes of one upload, with the form field's file name when it had one.

export interface UploadedFile {
  /** The form field's file name, or undefined for a raw body. */
  fileName?: string;
  content: Buffer;
}

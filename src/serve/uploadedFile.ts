// An image handed to the classifier: the bytes of one upload, with the form field's name and file name when it came
// in a multipart body, and the reason it was refused while it was read (over the size limit), if it was.
import type { ImageRejectedError } from '../dataset/validate';

export interface UploadedFile {
  /** The form field's file name, or undefined for a raw body. */
  fileName?: string;
  /** The form field's name, or undefined for a raw body. */
  field?: string;
  content: Buffer;
  /** Refused before decoding (a file over INGEST_MAX_FILE_BYTES, cut off while it was read). */
  rejected?: ImageRejectedError;
}

// Small JPEG previews of images for review pages: the picture upright (as training sees it), transparent parts on
// white, scaled to fit a size x size box (never enlarged). The caller applies the decoding limits first.
import { decodeUpright } from './view';

export interface ThumbnailOptions {
  /** The longer side at most, in pixels. */
  size: number;
  /** JPEG quality, 1-100; default 80. */
  quality?: number;
}

export async function renderThumbnail(input: Buffer, options: ThumbnailOptions): Promise<Buffer> {
  return decodeUpright(input)
    .flatten({ background: '#ffffff' })
    .resize(options.size, options.size, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: options.quality ?? 80 })
    .toBuffer();
}

/**
 * A video's poster frame: the browser's media pipeline decodes it in a `<video>` element
 * (off the main thread; only the frame copy happens here), at a tenth of its length but at
 * most 1 s in (a first frame is often black), or its first frame when the length is unknown
 * (recordings without a duration in their header). Bounded by a timeout.
 */
const TIMEOUT_MS = 15_000;

function once(el: HTMLMediaElement, event: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (ok: boolean, why?: string) => {
      clearTimeout(timer);
      el.removeEventListener(event, onEvent);
      el.removeEventListener('error', onError);
      if (ok) resolve();
      else reject(new Error(why));
    };
    const onEvent = () => done(true);
    const onError = () => done(false, 'this browser cannot decode the video');
    const timer = setTimeout(() => done(false, `no ${event} within ${ms} ms`), ms);
    el.addEventListener(event, onEvent);
    el.addEventListener('error', onError);
  });
}

export async function posterFrame(file: Blob, timeoutMs = TIMEOUT_MS): Promise<ImageBitmap> {
  // A picked file can be gone from disk by the time its poster is made (the folder changed
  // since the scan): reading one byte says so as an exception here, where a <video> on its
  // object URL would make the browser log a failed load instead.
  await file.slice(0, 1).arrayBuffer();
  const url = URL.createObjectURL(file);
  const v = document.createElement('video');
  v.muted = true;
  v.preload = 'auto';
  try {
    const loaded = once(v, 'loadeddata', timeoutMs);
    v.src = url;
    await loaded;
    if (Number.isFinite(v.duration) && v.duration > 0) {
      const seeked = once(v, 'seeked', timeoutMs);
      v.currentTime = Math.min(1, v.duration / 10);
      await seeked;
    }
    return await createImageBitmap(v);
  } finally {
    v.removeAttribute('src');
    v.load();
    URL.revokeObjectURL(url);
  }
}

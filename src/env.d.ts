interface ImportMetaEnv {
  /** ICE servers built in (vite.config.ts `TABDRIVE_ICE`), validated; '' for none */
  readonly TABDRIVE_ICE: string;
}

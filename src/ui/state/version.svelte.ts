/**
 * Whether this tab runs older code than the library it holds (DESIGN §6 "A library over
 * months"). Old and new builds side by side are normal for a PWA: one tab updates, another
 * keeps the old build, a device that was closed for months opens with its cached one. The
 * older one keeps syncing what it knows (decoding is tolerant; migrations only add) and is
 * told, in plain words, that it is behind, instead of quietly leaving out what it cannot read.
 *
 * Four witnesses, any of which makes it "behind":
 *  - its own database was migrated by a newer build (boot `schema.database`);
 *  - a connected peer's presence names a higher schema;
 *  - the document records a higher schema for some device (offline ones included);
 *  - a newer schema's fields or models arrived (the sync engine's `newer`).
 */
export interface Behind {
  /** the newest schema version seen, when one was named (0: only newer data was seen) */
  readonly newest: number;
  /** what tells, in words */
  readonly reason: string;
}

export interface VersionDeps {
  readonly schema: { readonly build: number; readonly database: number };
  /** asks the server for a newer build (the service worker's update check); false: no
   *  service worker to ask */
  readonly checkForUpdate: () => Promise<boolean>;
}

export class VersionState {
  readonly build: number;
  /** what became of the last "Update" (no newer build on the server, …) */
  message = $state<string | null>(null);
  #deps: VersionDeps;
  #database: number;
  #peers = $state(0);
  #document = $state(0);
  #newer = $state<readonly string[]>([]);
  #wanted = false;

  constructor(deps: VersionDeps) {
    this.#deps = deps;
    this.build = deps.schema.build;
    this.#database = deps.schema.database;
  }

  /**
   * "Update": a newer build already downloaded takes over at once; otherwise the server is
   * asked for one, which takes over when it has arrived (`offered`).
   */
  async update(ready: (() => Promise<void>) | null): Promise<void> {
    if (ready) return ready();
    this.#wanted = true;
    this.message = 'Looking for the newer version…';
    const asked = await this.#deps.checkForUpdate().catch(() => false);
    if (!asked) this.message = 'This tab cannot update itself (no service worker): reload it once the newer version is deployed.';
    else setTimeout(() => {
      if (this.#wanted) this.message = 'The server does not offer a newer version yet; this tab keeps syncing what it can read.';
    }, 10_000);
  }

  /** A newer build was downloaded: if the user asked for it, it takes over now. */
  offered(apply: () => Promise<void>): void {
    if (!this.#wanted) return;
    this.#wanted = false;
    void apply();
  }

  peersSay(schemas: readonly (number | null)[]): void {
    const top = Math.max(0, ...schemas.map((s) => s ?? 0));
    if (top !== this.#peers) this.#peers = top;
  }

  documentSays(newest: number): void {
    if (newest !== this.#document) this.#document = newest;
  }

  newerData(what: readonly string[]): void {
    if (what.length !== this.#newer.length) this.#newer = [...what];
  }

  get current(): Behind | null {
    const newest = Math.max(this.#database, this.#peers, this.#document);
    if (newest > this.build) {
      const who = this.#database > this.build ? "this device's data was upgraded by" : 'another device of this library runs';
      return { newest, reason: `This tab runs an older version of tabdrive (schema ${this.build}); ${who} a newer one (schema ${newest}).` };
    }
    if (this.#newer.length)
      return { newest: 0, reason: `Another device sent data this version of tabdrive cannot read yet (${this.#newer.slice(0, 3).join(', ')}${this.#newer.length > 3 ? ', …' : ''}).` };
    return null;
  }
}

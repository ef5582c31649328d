/**
 * Types of the close-code registry. Pure data; no I/O.
 * @packageDocumentation
 */

/** Languages the registry's texts are written in. */
export type Lang = 'en' | 'zh';

/** Every language the registry carries, in display order. */
export const LANGS: readonly Lang[] = ['en', 'zh'] as const;

/**
 * Who may put a code in a Close frame.
 * - `server` / `client`: only that endpoint sends it.
 * - `either`: both endpoints may.
 * - `gateway`: a proxy or gateway in front of the server.
 * - `none`: reserved for local reporting; it must never appear on the wire (1005, 1006, 1015 ...).
 */
export type Sender = 'server' | 'client' | 'either' | 'gateway' | 'none';

/**
 * What a client should do, by default, after a connection closed with a code.
 * - `reconnect-soon`: a planned event (1001, 1012); come back after a short random delay or the server's hint.
 * - `backoff`: something failed (1006, 1011, 1013, 1014); retry with exponential backoff and full jitter.
 * - `stop`: retrying cannot fix it (1000 by choice, 1002, 1003, 1007-1010, 1015); surface a diagnosis.
 * - `application`: the application decides (3000-4999); the client's option says what to do.
 */
export type ReconnectClass = 'reconnect-soon' | 'backoff' | 'stop' | 'application';

/** The human texts of one code or range, in one language. */
export interface CodeText {
  /** Short name, e.g. "Service Restart" / "服务重启". */
  readonly name: string;
  /**
   * The gist as a noun phrase that fits "signals …" and "use it for …",
   * e.g. "a planned restart of the service". Used in tables and comparisons.
   */
  readonly summary: string;
  /** What the code means. */
  readonly description: string;
  /** When and why it happens in practice. */
  readonly when: string;
  /** What to do about it (the receiver's and the sender's side). */
  readonly fix: string;
}

/**
 * The kind of entry an explanation comes from: a code registered with IANA (`registered`), one of
 * `lifeline.v1`'s own codes in the private-use range (`lifeline`), or the range a code falls in.
 */
export type EntryKind = 'unused' | 'registered' | 'reserved' | 'library' | 'application' | 'lifeline';

/** One registry entry: a single code (1000-1015, or one of lifeline's own) or a range of codes. */
export interface RegistryEntry {
  /** `registered` for 1000-1015, `lifeline` for lifeline's own codes; otherwise the range's kind. */
  readonly kind: EntryKind;
  /** First code covered (inclusive). Equal to `to` for a registered code. */
  readonly from: number;
  /** Last code covered (inclusive). */
  readonly to: number;
  /** Constant-style key for a single code (`SERVICE_RESTART`, `SESSION_TAKEN_OVER`), absent for ranges. */
  readonly key?: string;
  /** Who may send it. */
  readonly sender: Sender;
  /** Whether it may appear in a Close frame on the wire. */
  readonly onWire: boolean;
  /** The client's default reaction. */
  readonly reconnect: ReconnectClass;
  /** Where the code is defined (RFC section or IANA registry). */
  readonly source: string;
  /** Texts in every {@link Lang}. */
  readonly texts: Readonly<Record<Lang, CodeText>>;
}

/** Everything the registry says about one code, in one language. */
export interface Explanation extends CodeText {
  /** The code asked about. */
  readonly code: number;
  /** Language of the texts. */
  readonly lang: Lang;
  /** The entry kind: a registered code or the range it falls in. */
  readonly kind: EntryKind;
  /** The range covering the code (for a registered code, `[code, code]`). */
  readonly range: readonly [number, number];
  /** Constant-style key for registered codes. */
  readonly key?: string;
  /** Who may send it. */
  readonly sender: Sender;
  /** Whether it may appear on the wire. */
  readonly onWire: boolean;
  /** The client's default reaction. */
  readonly reconnect: ReconnectClass;
  /** Where the code is defined. */
  readonly source: string;
}

/** Two codes side by side. */
export interface Comparison {
  /** Language of the texts. */
  readonly lang: Lang;
  /** The first code's explanation. */
  readonly a: Explanation;
  /** The second code's explanation. */
  readonly b: Explanation;
  /** One or two sentences: the main difference. */
  readonly difference: string;
  /** When you meet each code. */
  readonly whenEach: string;
  /** What to do about each (when to use which, for a sender). */
  readonly whatToDo: string;
}

/**
 * A message as a transport delivered it, before decoding: the one shape every decoder reads, whatever
 * the transport. Its text is untrusted.
 */
export interface InboundMessage {
  /** The transport's position for this message: post id, `partition:offset`, stream entry id. */
  readonly id: string;
  readonly text: string;
  readonly receivedAt: Date;
  /**
   * The account that wrote it, where the transport has accounts (X). Such a message may have been
   * typed by a person, so the trust policy looks at it.
   */
  readonly author?: MessageAuthor | undefined;
  /** When the transport says the message was written (X's `created_at`). */
  readonly createdAt?: string | undefined;
  /** Links the transport put in place of ones in the text (X's t.co), with what they replaced. */
  readonly links?: readonly ShortenedLink[] | undefined;
  /** The ids of earlier versions of an edited message, where the transport lets messages be edited (X). */
  readonly editHistoryIds?: readonly string[] | undefined;
}

export interface MessageAuthor {
  readonly id: string;
  readonly username?: string | undefined;
}

export interface ShortenedLink {
  readonly url: string;
  readonly expandedUrl: string;
}

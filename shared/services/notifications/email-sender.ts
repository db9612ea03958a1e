import { randomUUID } from 'node:crypto';
import { link, mkdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigurationError, getSettings } from '../../config/index.js';
import type { Logger } from '../../logging/logger.js';

export interface Email {
  /** The event the email is about: one email per event, whoever sends it. */
  id: string;
  from: string;
  to: string;
  subject: string;
  text: string;
}

/** The narrow port notifications send through: ACS in Azure, `.eml` files locally, a recorder in tests. */
export interface EmailSender {
  /** Resolves once the provider accepted the email (or it was already written). */
  send(email: Email, log: Logger): Promise<void>;
}

/** RFC 2047 encoded-word for a header value that is not plain ASCII. */
function headerText(value: string): string {
  return /^[\x20-\x7e]*$/.test(value)
    ? value
    : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** The email as an RFC 5322 message (plain text, UTF-8, base64 body so any line length is safe). */
export function toEml(email: Email, date: Date): string {
  const body = Buffer.from(email.text, 'utf8')
    .toString('base64')
    .replace(/.{1,76}/g, '$&\r\n');
  return [
    `From: ${email.from}`,
    `To: ${email.to}`,
    `Subject: ${headerText(email.subject)}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${email.id}@ecommerce-api.local>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    body,
  ].join('\r\n');
}

/**
 * Local delivery: each email becomes `<dir>/<id>.eml`, opened by any mail client. The file name is the
 * event id and the file is created exclusively, so a second send of the same email writes nothing.
 */
export class EmlFileSender implements EmailSender {
  /** Made once per sender; a failed mkdir is tried again by the next send. */
  private ready: Promise<unknown> | undefined;

  constructor(readonly directory: string) {}

  async send(email: Email, log: Logger): Promise<void> {
    const file = path.join(this.directory, `${email.id}.eml`);
    const write = async (): Promise<void> => {
      this.ready ??= mkdir(this.directory, { recursive: true }).catch((error: unknown) => {
        this.ready = undefined;
        throw error;
      });
      await this.ready;
      // Written whole under a temporary name, then linked into place: a reader (or a crash) never sees
      // a half-written email under its final name, and the link fails with EEXIST if it was sent already.
      const partial = path.join(this.directory, `.${email.id}.${randomUUID()}.partial`);
      try {
        await writeFile(partial, toEml(email, new Date()), { flag: 'wx' });
        await link(partial, file);
      } finally {
        await unlink(partial).catch(() => undefined);
      }
    };
    try {
      await write().catch(async (error: unknown) => {
        // The directory went away since it was made (cleaned up): make it again, once.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        this.ready = undefined;
        await write();
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw error;
    }
    // The path only: the recipient's address is PII and stays out of logs.
    log.info(`notifications: email written to ${file}`);
  }
}

/** The slice of @azure/communication-email's EmailClient we use. */
export interface AcsEmailClientLike {
  beginSend(message: {
    senderAddress: string;
    recipients: { to: { address: string }[] };
    content: { subject: string; plainText: string };
  }): Promise<unknown>;
}

/**
 * Azure Communication Services Email under the app's managed identity. `beginSend` resolves when ACS
 * accepted the message (202); delivery then proceeds on ACS's side, so we do not poll to completion
 * while holding the notification's row lock. ACS dedupes only the SDK's own retries of one call
 * (Repeatability-Request-Id, tracked for 5 minutes: learn.microsoft.com/rest/api/communication/
 * repeatable-requests), never two calls: the sent-notification key is what stops a second email.
 */
export class AcsEmailSender implements EmailSender {
  constructor(private readonly client: AcsEmailClientLike) {}

  async send(email: Email): Promise<void> {
    await this.client.beginSend({
      senderAddress: email.from,
      recipients: { to: [{ address: email.to }] },
      content: { subject: email.subject, plainText: email.text },
    });
  }
}

function createAcsClient(endpoint: string): AcsEmailClientLike {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { EmailClient } =
    require('@azure/communication-email') as typeof import('@azure/communication-email');
  const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return new EmailClient(endpoint, new DefaultAzureCredential());
}

let sender: EmailSender | undefined;

/** ACS when an endpoint is configured; in Azure without one, a configuration error; else `.eml` files. */
export function getEmailSender(): EmailSender {
  if (sender) return sender;
  const settings = getSettings();
  if (settings.COMMUNICATION_SERVICES_ENDPOINT) {
    sender = new AcsEmailSender(createAcsClient(settings.COMMUNICATION_SERVICES_ENDPOINT));
  } else if (settings.APP_ENV === 'azure') {
    throw new ConfigurationError(['COMMUNICATION_SERVICES_ENDPOINT: required in Azure to email customers']);
  } else {
    sender = new EmlFileSender(path.resolve(settings.LOCAL_MAIL_DIR));
  }
  return sender;
}

/** Tests install a recorder (or a failing sender); undefined restores the default. */
export function setEmailSender(next: EmailSender | undefined): void {
  sender = next;
}

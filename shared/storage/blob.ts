import type { BlobServiceClient, BlockBlobClient } from '@azure/storage-blob';
import { ConfigurationError, getSettings } from '../config/index.js';

/* eslint-disable @typescript-eslint/no-require-imports */
const loadSdk = (): typeof import('@azure/storage-blob') =>
  require('@azure/storage-blob') as typeof import('@azure/storage-blob');
/* eslint-enable @typescript-eslint/no-require-imports */

let client: BlobServiceClient | undefined;

// Bounded retries: a queue redelivery is the outer retry, so the SDK must not stall a delivery for long.
const PIPELINE = {
  retryOptions: { maxTries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2_000, tryTimeoutInMs: 60_000 },
};

/**
 * Blob Storage for exports: a connection string (Azurite locally, or an account key) or, in Azure, the
 * identity-based `AzureWebJobsStorage__accountName`/`__blobServiceUri` with the managed identity.
 */
export function getBlobServiceClient(): BlobServiceClient {
  if (client) return client;
  const settings = getSettings();
  const sdk = loadSdk();
  if (settings.AzureWebJobsStorage) {
    client = sdk.BlobServiceClient.fromConnectionString(settings.AzureWebJobsStorage, PIPELINE);
  } else if (settings.AzureWebJobsStorage__blobServiceUri || settings.AzureWebJobsStorage__accountName) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
    const url =
      settings.AzureWebJobsStorage__blobServiceUri ??
      `https://${settings.AzureWebJobsStorage__accountName}.blob.core.windows.net`;
    client = new sdk.BlobServiceClient(url, new DefaultAzureCredential(), PIPELINE);
  } else {
    throw new ConfigurationError(['AzureWebJobsStorage: no storage connection configured']);
  }
  return client;
}

export function resetBlobClientForTests(): void {
  client = undefined;
}

export function exportBlob(containerName: string, blobName: string): BlockBlobClient {
  return getBlobServiceClient().getContainerClient(containerName).getBlockBlobClient(blobName);
}

/**
 * A read-only link valid until `expiresOn`. With an account key (connection string) it is an
 * account-key SAS; under managed identity, a user-delegation SAS (no key ever leaves Key Vault/ARM).
 */
export async function readOnlyLink(
  blob: BlockBlobClient,
  expiresOn: Date,
  now = new Date(),
): Promise<string> {
  const sdk = loadSdk();
  const startsOn = new Date(now.getTime() - 60_000); // tolerate clock skew at the storage service
  const http = blob.url.startsWith('http://');
  const options = {
    permissions: sdk.BlobSASPermissions.parse('r'),
    startsOn,
    expiresOn,
    protocol: http ? sdk.SASProtocol.HttpsAndHttp : sdk.SASProtocol.Https,
    contentDisposition: `attachment; filename="${blob.name.split('/').pop() ?? 'export.csv'}"`,
    contentType: 'text/csv; charset=utf-8',
  };
  if (blob.credential instanceof sdk.StorageSharedKeyCredential) return blob.generateSasUrl(options);
  const key = await getBlobServiceClient().getUserDelegationKey(startsOn, expiresOn);
  return blob.generateUserDelegationSasUrl(options, key);
}

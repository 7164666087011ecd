/** The part of icecast-metadata-js (which ships no types) that station.ts uses. */
declare module 'icecast-metadata-js' {
  export class IcecastMetadataReader {
    constructor(options: { icyMetaInt?: number | undefined; metadataTypes?: string[]; icyCharacterEncoding?: string; icyDetectionTimeout?: number });
    /** The chunk's audio bytes (`stream`) and metadata (`metadata`), in stream order. */
    iterator(chunk: Uint8Array): Iterable<{ stream?: Uint8Array; metadata?: Record<string, string> }>;
  }
}

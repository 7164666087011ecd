/**
 * A song of the catalog, its schema, and what tells a song's address apart: the one fact every
 * part that reads catalogs, opens songs or decodes them shares.
 */
import { z } from 'zod';

/** Whether a song's (or a catalog's) location is an http(s) URL rather than a path. */
export const isUrl = (s: string): boolean => /^https?:\/\//i.test(s);

export const songSchema = z
  .object({
    id: z.string().min(1),
    title: z.string().min(1),
    artist: z.string().optional(),
    /** An absolute path, or an http(s) URL. */
    url: z.string().min(1),
    language: z.string().optional(),
    genre: z.string().optional(),
    duration: z.number().positive().optional(),
    /**
     * A live station (Icecast/Shoutcast or HLS): it plays until skipped, its title comes from the
     * stream, and a drop is reconnected (src/sources/station.ts).
     */
    live: z.boolean().optional(),
  })
  .refine((song) => !song.live || isUrl(song.url), { message: 'a station ("live": true) needs an http(s) URL', path: ['url'] });

export type Song = z.infer<typeof songSchema>;

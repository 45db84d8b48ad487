/**
 * A control record: a session message for the application's own protocols (file transfers,
 * peer/chat/file-control.ts), apart from chat messages (JSON, starting with `{`) and bulk
 * records (starting with 0x00, peer/bulk-record.ts). It starts with the byte 0x01; the rest is
 * the application's. The peer layer hands it over as it arrives and acknowledges it at once: the
 * protocol on top answers what it needs to (docs/protocol.md, control records).
 */
export const CONTROL_TAG = 0x01;

export const isControlRecord = (b: Uint8Array): boolean => b.length > 0 && b[0] === CONTROL_TAG;

/* The TD event log: a TCG crypto-agile log with SHA-384 digests and CC MR indices (tdx-mrtd.md §6.3). */
#ifndef LINUX_TDX_EVENTLOG_H
#define LINUX_TDX_EVENTLOG_H

#include "tdx.h"

#define EV_EFI_HANDOFF_TABLES2 0x8000000B
#define MR_INDEX_RTMR0         1

/* Fills the log area with 0xFF (its unused tail) and writes the Spec ID event first. */
void event_log_start(void);

/* Extends RTMR[mr_index - 1] with SHA-384(data) and logs the event: 0, the TDCALL status, or ~0 when the log is full. */
u64 measure_event(u32 mr_index, u32 type, const void *data, u64 length, const void *event, u32 event_size);

#endif

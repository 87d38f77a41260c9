/*
 * The firmware's measurements: each one extends an RTMR through TDG.MR.RTMR.EXTEND and is appended to the event
 * log the CCEL table points at, so a verifier can replay the log against the RTMRs of a TDREPORT.
 */
#include "eventlog.h"
#include "layout.h"
#include "sha384.h"

#define EV_NO_ACTION   3
#define TPM_ALG_SHA384 0x000C

static u8 *tail;

static void put(const void *bytes, u64 length)
{
    const u8 *p = bytes;
    for (u64 i = 0; i < length; i++)
        *tail++ = p[i];
}

static void put32(u32 v) { put(&v, 4); }

void event_log_start(void)
{
    u8 *log = (u8 *)EVENT_LOG;
    for (u64 i = 0; i < EVENT_LOG_SIZE; i++)
        log[i] = 0xFF;
    tail = log;

    /* TCG_PCClientPCREvent with TCG_EfiSpecIDEvent: SHA-1 sized header, SHA-384 the one algorithm that follows. */
    static const u8 spec_id[] = {
        'S', 'p', 'e', 'c', ' ', 'I', 'D', ' ', 'E', 'v', 'e', 'n', 't', '0', '3', 0,
        0, 0, 0, 0,                     /* platformClass */
        0, 2, 0, 2,                     /* specVersionMinor 0, Major 2, specErrata 0, uintnSize 2 (UINT64) */
        1, 0, 0, 0,                     /* numberOfAlgorithms */
        TPM_ALG_SHA384, 0, SHA384_DIGEST, 0,
        0,                              /* vendorInfoSize */
    };
    static const u8 sha1_zero[20] = { 0 };
    put32(0);
    put32(EV_NO_ACTION);
    put(sha1_zero, sizeof sha1_zero);
    put32(sizeof spec_id);
    put(spec_id, sizeof spec_id);
}

u64 measure_event(u32 mr_index, u32 type, const void *data, u64 length, const void *event, u32 event_size)
{
    u8 *digest = (u8 *)RTMR_EXTEND_DATA;
    sha384(data, length, digest);
    struct tdcall_regs r = { .rax = TDG_MR_RTMR_EXTEND, .rcx = RTMR_EXTEND_DATA, .rdx = mr_index - 1 };
    tdcall(&r);
    if (r.rax != 0)
        return r.rax;

    u64 size = 4 + 4 + 4 + 2 + SHA384_DIGEST + 4 + event_size;
    if (tail + size > (u8 *)EVENT_LOG + EVENT_LOG_SIZE)
        return ~0UL;
    u16 alg = TPM_ALG_SHA384;
    put32(mr_index);
    put32(type);
    put32(1);
    put(&alg, 2);
    put(digest, SHA384_DIGEST);
    put32(event_size);
    put(event, event_size);
    return 0;
}

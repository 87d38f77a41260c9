/*
 * PVALIDATE over a range, as Linux's pvalidate_pages does it: 2M where the range allows, and 4K when the RMP entry is
 * 4K (FAIL_SIZEMISMATCH, which is every 2M page under upstream KVM's 4K guest_memfd pages). A page already valid
 * (CF set) is one the launch validated: the SNP_SEC_MEM, secrets and CPUID pages.
 */
#include "firmware.h"

#define PVALIDATE_FAIL_SIZEMISMATCH 6

void validate(u64 start, u64 end, struct validation *v)
{
    for (u64 p = start; p < end;) {
        int unchanged;
        if ((p & (PAGE_2M - 1)) == 0 && p + PAGE_2M <= end) {
            u32 rc = pvalidate(p, 1, 1, &unchanged);
            if (rc == 0 && !unchanged) {
                v->pages_2m++;
                p += PAGE_2M;
                continue;
            }
            if (rc != PVALIDATE_FAIL_SIZEMISMATCH)
                refuse(REFUSE_PVALIDATE, "PVALIDATE of a 2M page failed");
        }
        u32 rc = pvalidate(p, 0, 1, &unchanged);
        if (rc != 0)
            refuse(REFUSE_PVALIDATE, "PVALIDATE of a 4K page failed");
        if (unchanged && (p < SEC_MEM || p >= FIRMWARE_END))
            refuse(REFUSE_PVALIDATE, "a page outside the firmware's launch sections was already validated");
        if (unchanged)
            v->already++;
        else
            v->pages_4k++;
        p += PAGE;
    }
}

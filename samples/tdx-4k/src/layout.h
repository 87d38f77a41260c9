/*
 * Memory map of the TDX-only-4K sample (read by gas, ld and the C code; plain literals only).
 *
 *   0xFFFF0000..0xFFFFFFFF  the image: TDVF section BFV, PAGE.ADDed and MR.EXTENDed (code, data, bss)
 *   0x00800000..0x00807FFF  TDVF TempMem, PAGE.ADDed unmeasured: page tables, then the stack
 *   0x00809000..0x0080AFFF  TDVF TD_HOB, written by the VMM before its PAGE.ADD (RCX points at it)
 *   everything else         RAM the TD must accept before use
 *
 * C code runs at the ROM alias 0xFFFFFFFFFFFF0000 (gcc -mcmodel=kernel); data lives in the image too, since a
 * TD's BFV is ordinary private memory. Linear 0x100000000 + p is GPA p with the shared bit (47) set.
 */
#ifndef TDX_SAMPLE_LAYOUT_H
#define TDX_SAMPLE_LAYOUT_H

#define ROM_SIZE            0x10000
#define ROM_PHYS            0xFFFF0000
#define STUB_PHYS           0xFFFFF000
#define ROM_VIRT_OFFSET     0xFFFFFFFF00000000

#define TEMP_MEM            0x800000
#define TEMP_MEM_SIZE       0x8000
#define TD_HOB              0x809000
#define TD_HOB_SIZE         0x2000

#define PT_PML4             (TEMP_MEM + 0x0000)
#define PT_PDPT_LO          (TEMP_MEM + 0x1000)     /* PML4[0]: identity 0..4 GiB, shared alias at 4 GiB */
#define PT_PDPT_HI          (TEMP_MEM + 0x2000)     /* PML4[511]: the ROM alias */
#define PT_PD_LO            (TEMP_MEM + 0x3000)     /* 0..1 GiB in 2 MiB pages */
#define PT_PD_TOP           (TEMP_MEM + 0x4000)     /* 3..4 GiB: the image's 2 MiB page */
#define STACK_TOP           (TEMP_MEM + TEMP_MEM_SIZE)

#define SHARED_ALIAS        0x100000000             /* linear 4 GiB + p = GPA p | bit 47 */
#define SHARED_BIT_HI       0x8000                  /* bit 47, as the high dword of a PDPTE */

#endif

/*
 * Memory map of the Linux TD firmware (read by gas, ld and the C code; plain literals only).
 *
 *   0xFFFF0000..0xFFFFFFFF  the image: TDVF BFV, PAGE.ADDed and MR.EXTENDed
 *   0x00800000..0x00807FFF  TDVF TempMem, PAGE.ADDed unmeasured: page tables, then the stack
 *   0x00809000..0x0080AFFF  TDVF TD_HOB, written by the VMM (RCX points at it)
 *   0x00810000..0x0081FFFF  TDVF PayloadParam, written by the VMM and measured: the zero page (boot_params) at
 *                           0x810000, the command line at 0x811000, the ACPI tables from 0x812000, and the
 *                           event log area at 0x818000 (zeros at launch; the firmware writes the log, which the
 *                           CCEL table among the ACPI tables points at)
 *   0x01000000..0x04FFFFFF  TDVF Payload, written by the VMM and measured: the protected-mode kernel at its
 *                           preferred address (16 MiB), the initrd at the top
 *   everything else         RAM the firmware accepts before Linux runs
 */
#ifndef LINUX_TDX_LAYOUT_H
#define LINUX_TDX_LAYOUT_H

#define ROM_SIZE            0x10000
#define ROM_PHYS            0xFFFF0000
#define STUB_PHYS           0xFFFFF000
#define ROM_VIRT_OFFSET     0xFFFFFFFF00000000

#define TEMP_MEM            0x800000
#define TEMP_MEM_SIZE       0x8000
#define TD_HOB              0x809000
#define TD_HOB_SIZE         0x2000
#define PAYLOAD_PARAM       0x810000
#define PAYLOAD_PARAM_SIZE  0x10000
#define ZERO_PAGE           PAYLOAD_PARAM
#define EVENT_LOG           (PAYLOAD_PARAM + 0x8000)
#define EVENT_LOG_SIZE      0x8000
#define PAYLOAD             0x1000000
#define PAYLOAD_SIZE        0x4000000

#define PT_PML4             (TEMP_MEM + 0x0000)
#define PT_PDPT_LO          (TEMP_MEM + 0x1000)     /* PML4[0]: identity 0..4 GiB */
#define PT_PDPT_HI          (TEMP_MEM + 0x2000)     /* PML4[511]: the ROM alias */
#define PT_PD_LO            (TEMP_MEM + 0x3000)     /* 0..1 GiB in 2 MiB pages */
#define PT_PD_TOP           (TEMP_MEM + 0x4000)     /* 3..4 GiB: the image's 2 MiB page */
#define RTMR_EXTEND_DATA    (TEMP_MEM + 0x5000)     /* TDG.MR.RTMR.EXTEND's 48 bytes, 64-byte aligned */
#define STACK_TOP           (TEMP_MEM + TEMP_MEM_SIZE)

#endif

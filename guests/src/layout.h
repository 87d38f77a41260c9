/*
 * Memory layout shared by stub.S, guest.ld.S and the C code.
 * Only plain integer literals here: this file is read by gas and ld too.
 */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

/* ROM: the whole image, last byte at physical 0xFFFFFFFF. */
#ifndef ROM_SIZE
#define ROM_SIZE            0x10000                 /* 64 KiB */
#endif
#define ROM_PHYS            (0x100000000 - ROM_SIZE)
#define STUB_PHYS           0xFFFFF000              /* last 4 KiB: stub + reset vector */

/*
 * Virtual aliases used by the C code (gcc -mcmodel=kernel: every symbol in
 * the top 2 GiB of the address space):
 *   0xFFFFFFFF80000000 + p  ->  RAM physical p  (p < 64 MiB)
 *   0xFFFFFFFF00000000 + p  ->  ROM physical p  (p in the top 2 MiB below 4 GiB)
 * Both are mapped in addition to the identity map of the same memory.
 */
#define RAM_VIRT_OFFSET     0xFFFFFFFF80000000
#define ROM_VIRT_OFFSET     0xFFFFFFFF00000000

/* Page tables, written at run time by the 32-bit stub. */
#define PT_BASE             0x10000
#define PT_PML4             (PT_BASE + 0x0000)
#define PT_PDPT_LO          (PT_BASE + 0x1000)      /* PML4[0]   identity        */
#define PT_PDPT_HI          (PT_BASE + 0x2000)      /* PML4[511] high aliases    */
#define PT_PD_LO            (PT_BASE + 0x3000)      /* 0..1 GiB (only 64 MiB used) */
#define PT_PD_TOP           (PT_BASE + 0x4000)      /* 3..4 GiB (only top 2 MiB)   */
#define PT_TOP              (PT_BASE + 0x5000)      /* 4K: PT for 0xFFE00000..     */
#define PT_LO               (PT_BASE + 0x6000)      /* 4K: 32 PTs for 0..64 MiB    */
#define LOW_MAP_2M_PAGES    32                      /* 64 MiB of low memory mapped */
#ifdef PAGES_4K
#define PT_END              (PT_LO + LOW_MAP_2M_PAGES * 0x1000)   /* 0x36000 */
#else
#define PT_END              (PT_BASE + 0x5000)                    /* 0x15000 */
#endif

/* Stack: grows down from 0x80000 (0x40000..0x7FFFF reserved, 256 KiB). */
#define STACK_TOP_PHYS      0x80000
#define STACK_LIMIT_PHYS    0x40000
#define STACK_TOP_VIRT      (RAM_VIRT_OFFSET + STACK_TOP_PHYS)

/* .data, .bss and the big uninitialised buffers start at 1 MiB. */
#define RAM_DATA_PHYS       0x100000

#endif

/*
 * CocoLaunch test-guest boot stub (GNU as, AT&T syntax, preprocessed by gcc).
 *
 * The image is a flat ROM whose last byte sits at physical 0xFFFFFFFF.  This
 * file provides everything in the last 4 KiB of it (section .stub, placed at
 * physical 0xFFFFF000 by guest.ld):
 *
 *   0xFFFFFFF0  reset vector, decodes identically in 16- and 32-bit mode
 *   Real16      legacy / SEV-SNP entry: real mode, CS.base 0xFFFF0000
 *   Main32      TDX entry (32-bit flat protected mode) and where Real16 lands
 *   Main64      long mode: stack, .data copy, .bss clear, call main, exit
 *
 * Build-time switches:
 *   PAGES_4K    map with 4 KiB pages (default: 2 MiB pages)
 *   GUEST_SSE   enable SSE (CR0.MP, CR4.OSFXSR|OSXMMEXCPT; clear CR0.EM/TS)
 */

#include "layout.h"

#define SEL_CODE32  0x08
#define SEL_DATA    0x10
#define SEL_CODE64  0x18

#define MSR_EFER    0xC0000080
#define EFER_LME    (1 << 8)
#define EFER_NXE    (1 << 11)

#define CR0_PE      (1 << 0)
#define CR0_MP      (1 << 1)
#define CR0_EM      (1 << 2)
#define CR0_TS      (1 << 3)
#define CR0_WP      (1 << 16)
#define CR0_NW      (1 << 29)
#define CR0_CD      (1 << 30)
#define CR0_PG      (1 << 31)
#define CR4_PAE     (1 << 5)
#define CR4_OSFXSR  (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)

/* page-table entry bits */
#define PTE_P       0x001
#define PTE_RW      0x002
#define PTE_PS      0x080
#define PTE_NX_HI   0x80000000      /* bit 63, as the high dword */

/* Real-mode CS.base at reset: 16-bit offsets are relative to this. */
#define RESET_CS_BASE 0xFFFF0000

/* First bytes of the ROM (physical ROM_PHYS): an identification string. */
        .section .romheader, "a"
        .ascii  "CocoLaunch test guest: "
        .ascii  IMAGE_NAME
        .byte   0
        .balign 16, 0

        .section .stub, "ax"

/* ---------------------------------------------------------------- GDT --- */
        .balign 16
gdt:
        .quad 0                         /* 0x00 null */
        .quad 0x00CF9B000000FFFF        /* 0x08 32-bit flat code (accessed) */
        .quad 0x00CF93000000FFFF        /* 0x10 flat data (accessed) */
        .quad 0x00AF9B000000FFFF        /* 0x18 64-bit code (L=1, accessed) */
gdt_end:

        .balign 8
        .word 0                         /* pad so the base is 4-aligned */
gdt_desc:
        .word gdt_end - gdt - 1
        .long gdt                       /* physical == linear (ROM, < 4 GiB) */

/* ------------------------------------------------------- 16-bit entry --- */
        .code16
Real16:
        cli
        cld
        /* o32 lgdt cs:[disp16] -- DS.base is 0 in real mode, so go via CS */
        lgdtl   %cs:(gdt_desc - RESET_CS_BASE)
        movl    %cr0, %eax
        orl     $CR0_PE, %eax
        movl    %eax, %cr0
        /* 66 EA off32 sel16: far jump into the 32-bit flat code segment */
        ljmpl   $SEL_CODE32, $Main32

/* ------------------------------------------------------- 32-bit entry --- */
        .code32
        /*
         * Reached from Real16 (CS = 0x08 flat, but DS/ES/SS still hold
         * real-mode descriptors with limit 0xFFFF) or directly from the
         * TDX reset state (all segments flat, CR0 = 0x21, EFER = 0x901,
         * GDTR unusable).  Only CS is known to be flat in both cases, so
         * the GDT is loaded through CS.
         */
Main32:
        lgdtl   %cs:gdt_desc
        ljmpl   $SEL_CODE32, $1f
1:      movl    $SEL_DATA, %eax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs

        /* ---- identity (+ high alias) page tables in low RAM ---- */
        cld
        movl    $PT_BASE, %edi
        movl    $((PT_END - PT_BASE) / 4), %ecx
        xorl    %eax, %eax
        rep stosl

        /* PML4[0] -> PDPT_LO (identity), PML4[511] -> PDPT_HI (kernel alias) */
        movl    $(PT_PDPT_LO + PTE_P + PTE_RW), PT_PML4 + 0 * 8
        movl    $(PT_PDPT_HI + PTE_P + PTE_RW), PT_PML4 + 511 * 8
        /* PDPT_LO[0] -> PD_LO (0..1 GiB), PDPT_LO[3] -> PD_TOP (3..4 GiB) */
        movl    $(PT_PD_LO + PTE_P + PTE_RW), PT_PDPT_LO + 0 * 8
        movl    $(PT_PD_TOP + PTE_P + PTE_RW), PT_PDPT_LO + 3 * 8
        /* PDPT_HI[510] -> PD_LO (0xFFFFFFFF80000000 -> phys 0),
         * PDPT_HI[511] -> PD_TOP (0xFFFFFFFFC0000000 -> phys 3 GiB) */
        movl    $(PT_PD_LO + PTE_P + PTE_RW), PT_PDPT_HI + 510 * 8
        movl    $(PT_PD_TOP + PTE_P + PTE_RW), PT_PDPT_HI + 511 * 8

#ifdef PAGES_4K
        /* PD_LO[0..31] -> 32 page tables covering 0..64 MiB */
        movl    $PT_PD_LO, %edi
        movl    $(PT_LO + PTE_P + PTE_RW), %eax
        movl    $LOW_MAP_2M_PAGES, %ecx
2:      movl    %eax, (%edi)
        addl    $0x1000, %eax
        addl    $8, %edi
        loop    2b
        /* PT_LO: 4 KiB pages 0..64 MiB, RW, NX */
        movl    $PT_LO, %edi
        movl    $(PTE_P + PTE_RW), %eax
        movl    $(LOW_MAP_2M_PAGES * 512), %ecx
3:      movl    %eax, (%edi)
        movl    $PTE_NX_HI, 4(%edi)
        addl    $0x1000, %eax
        addl    $8, %edi
        loop    3b
        /* PD_TOP[511] -> PT_TOP: 4 KiB pages 0xFFE00000..0xFFFFFFFF, read-only, executable */
        movl    $(PT_TOP + PTE_P + PTE_RW), PT_PD_TOP + 511 * 8
        movl    $PT_TOP, %edi
        movl    $(0xFFE00000 + PTE_P), %eax
        movl    $512, %ecx
4:      movl    %eax, (%edi)
        addl    $0x1000, %eax
        addl    $8, %edi
        loop    4b
#else
        /* PD_LO[0..31]: 2 MiB pages 0..64 MiB, RW, NX */
        movl    $PT_PD_LO, %edi
        movl    $(PTE_P + PTE_RW + PTE_PS), %eax
        movl    $LOW_MAP_2M_PAGES, %ecx
2:      movl    %eax, (%edi)
        movl    $PTE_NX_HI, 4(%edi)
        addl    $0x200000, %eax
        addl    $8, %edi
        loop    2b
        /* PD_TOP[511]: 2 MiB page 0xFFE00000, read-only, executable */
        movl    $(0xFFE00000 + PTE_P + PTE_PS), PT_PD_TOP + 511 * 8
#endif

        /* ---- long mode ---- */
        movl    %cr4, %eax
        orl     $CR4_PAE, %eax
        movl    %eax, %cr4

        movl    $PT_PML4, %eax
        movl    %eax, %cr3

        /* EFER |= LME | NXE; skip the write when already set (TDX: 0x901) */
        movl    $MSR_EFER, %ecx
        rdmsr
        movl    %eax, %ebx
        orl     $(EFER_LME | EFER_NXE), %eax
        cmpl    %eax, %ebx
        je      5f
        wrmsr
5:
        movl    %cr0, %eax
        andl    $~(CR0_CD | CR0_NW), %eax
        orl     $(CR0_PG | CR0_WP | CR0_PE), %eax
        movl    %eax, %cr0              /* EFER.LMA = 1, compatibility mode */

        ljmpl   $SEL_CODE64, $Main64

/* ------------------------------------------------------- 64-bit code ---- */
        .code64
Main64:
        movl    $SEL_DATA, %eax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs

        movabsq $STACK_TOP_VIRT, %rsp

#ifdef GUEST_SSE
        movq    %cr0, %rax
        andq    $~(CR0_EM | CR0_TS), %rax
        orq     $CR0_MP, %rax
        movq    %rax, %cr0
        movq    %cr4, %rax
        orq     $(CR4_OSFXSR | CR4_OSXMMEXCPT), %rax
        movq    %rax, %cr4
#endif

        /* copy .data from ROM to RAM */
        movabsq $__data_lma, %rsi
        movabsq $__data_start, %rdi
        movabsq $__data_end, %rcx
        subq    %rdi, %rcx
        rep movsb
        /* clear .bss */
        movabsq $__bss_start, %rdi
        movabsq $__bss_end, %rcx
        subq    %rdi, %rcx
        xorl    %eax, %eax
        rep stosb

        movabsq $main, %rax
        call    *%rax

        /* isa-debug-exit: status = (eax << 1) | 1 */
        outl    %eax, $0xF4
6:      cli
        hlt
        jmp     6b

/* ------------------------------------------------------ reset vector --- */
        /* .stub starts at physical 0xFFFFF000, so this is 0xFFFFFFF0.
         * The same bytes decode the same in 16- and 32-bit mode (OVMF's
         * ResetVectorVtf0 trick): PE=0 (legacy/SNP) takes the 16-bit jump,
         * PE=1 (TDX) falls through to the 32-bit one. */
        .org    0xFF0, 0xCC
        .byte   0x0F, 0x20, 0xC0        /* mov eax, cr0 */
        .byte   0xA8, 0x01              /* test al, 1 */
        .byte   0x74, 0x05              /* jz .Lreal */
        .byte   0xE9                    /* jmp Main32 (32-bit, TDX) */
        .long   Main32 - .Lreal
.Lreal: .byte   0xE9                    /* jmp Real16 (16-bit, IP-relative) */
        .word   Real16 - .Lreal16_next
.Lreal16_next:
        .byte   0x90
        .org    0x1000

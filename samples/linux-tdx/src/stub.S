/*
 * Linux TD firmware: reset vector, 32-bit entry from the TDX initial state, long mode, and the TDVF metadata
 * (descriptor and GUID table) with the Payload and PayloadParam sections the VMM fills with Linux.
 */
#include "layout.h"

/* The boot protocol's selectors: the kernel is entered with CS = __BOOT_CS (0x10), DS = __BOOT_DS (0x18). */
#define SEL_CODE32  0x08
#define SEL_CODE64  0x10
#define SEL_DATA    0x18
#define PTE_P       0x001
#define PTE_RW      0x002
#define PTE_PS      0x080

        .section .romheader, "a"
        .ascii  "CocoLaunch Linux TD firmware"
        .byte   0
        .balign 16, 0

        .section .stub, "ax"
        .balign 16
gdt:
        .quad 0
        .quad 0x00CF9B000000FFFF        /* 0x08 32-bit flat code */
        .quad 0x00AF9B000000FFFF        /* 0x10 64-bit code */
        .quad 0x00CF93000000FFFF        /* 0x18 flat data */
gdt_end:
        .balign 8
        .word 0
gdt_desc:
        .word gdt_end - gdt - 1
        .long gdt

        .code32
        /* The TDX initial state: flat 32-bit protected mode, EFER.LME set, RCX/R8 = the TD HOB, RSI = vCPU index. */
Main32:
        lgdtl   %cs:gdt_desc
        ljmpl   $SEL_CODE32, $1f
1:      movl    $SEL_DATA, %eax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    %esi, %ebp              /* keep the vCPU index */

        /* Page tables in TempMem (zeroed by PAGE.ADD): identity 0..1 GiB in 2 MiB pages, and the image. */
        movl    $(PT_PDPT_LO + PTE_P + PTE_RW), PT_PML4 + 0 * 8
        movl    $(PT_PDPT_HI + PTE_P + PTE_RW), PT_PML4 + 511 * 8
        movl    $(PT_PD_LO + PTE_P + PTE_RW), PT_PDPT_LO + 0 * 8
        movl    $(PT_PD_TOP + PTE_P + PTE_RW), PT_PDPT_LO + 3 * 8
        movl    $(PT_PD_TOP + PTE_P + PTE_RW), PT_PDPT_HI + 511 * 8
        movl    $PT_PD_LO, %edi
        movl    $(PTE_P + PTE_RW + PTE_PS), %eax
        movl    $512, %ecx
2:      movl    %eax, (%edi)
        addl    $0x200000, %eax
        addl    $8, %edi
        loop    2b
        movl    $(0xFFE00000 + PTE_P + PTE_RW + PTE_PS), PT_PD_TOP + 511 * 8

        movl    %cr4, %eax
        orl     $0x20, %eax             /* PAE */
        movl    %eax, %cr4
        movl    $PT_PML4, %eax
        movl    %eax, %cr3
        movl    %cr0, %eax
        orl     $0x80010001, %eax       /* PG | WP | PE; EFER.LME is already set */
        movl    %eax, %cr0
        ljmpl   $SEL_CODE64, $Main64

        .code64
Main64:
        movl    $SEL_DATA, %eax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    $STACK_TOP, %esp
        movl    %ebp, %edi              /* main(vcpu_index) */
        movabsq $main, %rax
        call    *%rax
3:      hlt
        jmp     3b

        /* ---- TDVF metadata (tdx-mrtd.md §5): the descriptor, 0x800 bytes before the end of the image ---- */
        .org    0x7F0, 0xCC
        /* TDX metadata GUID e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae */
        .byte   0xf3, 0xf9, 0xea, 0xe9, 0x8e, 0x16, 0xd5, 0x44, 0xa8, 0xeb, 0x7f, 0x4d, 0x87, 0x38, 0xf6, 0xae
        .ascii  "TDVF"
        .long   16 + 5 * 32             /* length */
        .long   1                       /* version */
        .long   5                       /* sections */
        /* DataOffset, RawDataSize, MemoryAddress, MemoryDataSize, Type, Attributes */
        .long   0, ROM_SIZE
        .quad   ROM_PHYS, ROM_SIZE
        .long   0, 1                    /* BFV, MR.EXTEND */
        .long   0, 0
        .quad   TEMP_MEM, TEMP_MEM_SIZE
        .long   3, 0                    /* TempMem */
        .long   0, 0
        .quad   TD_HOB, TD_HOB_SIZE
        .long   2, 0                    /* TD_HOB */
        .long   0, 0
        .quad   PAYLOAD_PARAM, PAYLOAD_PARAM_SIZE
        .long   6, 1                    /* PayloadParam, MR.EXTEND */
        .long   0, 0
        .quad   PAYLOAD, PAYLOAD_SIZE
        .long   5, 1                    /* Payload, MR.EXTEND */

        /* ---- OVMF GUID table, walked backwards from the footer that ends 0x20 before 4 GiB ---- */
        .org    0xFB8, 0xCC
        .long   0x800                   /* the descriptor is this far from the end of the image */
        .word   22
        /* TDX metadata offset GUID e47a6535-984a-4798-865e-4685a7bf8ec2 */
        .byte   0x35, 0x65, 0x7a, 0xe4, 0x4a, 0x98, 0x98, 0x47, 0x86, 0x5e, 0x46, 0x85, 0xa7, 0xbf, 0x8e, 0xc2
        .word   22 + 18                 /* table length */
        /* table footer GUID 96b582de-1fb2-45f7-baea-a366c55a082d */
        .byte   0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45, 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d

        /* ---- reset vector at 0xFFFFFFF0: the TDX entry is already in 32-bit mode ---- */
        .org    0xFF0, 0xCC
        .code32
        jmp     Main32
        .org    0x1000, 0xCC
        .section .note.GNU-stack, "", @progbits

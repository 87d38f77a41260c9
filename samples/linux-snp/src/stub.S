/*
 * The Linux SNP firmware's last page: the reset vector (real mode at F000:FFF0, the BSP's VMSA), protected mode,
 * long mode on an identity map of the first 4 GiB with the C-bit in every entry but the two 2M pages of the shared
 * window, and the OVMF GUID table with the SEV metadata: SNP_SEC_MEM, SNP_SECRETS, CPUID and SNP_KERNEL_HASHES,
 * the SEV hash table's place and the SEV-ES reset block, as OVMF's AmdSev build lays them out.
 */
#include "layout.h"

#define SEL_CODE32  0x08
#define SEL_DATA    0x10
#define SEL_CODE64  0x18
#define PTE         0x003                   /* present, writable */
#define PTE_PS      0x080
#define RESET_CS_BASE 0xFFFF0000

        .section .romheader, "a"
        .ascii  "CocoLaunch Linux SNP firmware"
        .byte   0
        .balign 16, 0

        .section .stub, "ax"
        .balign 16
gdt:
        .quad 0
        .quad 0x00CF9B000000FFFF
        .quad 0x00CF93000000FFFF
        .quad 0x00AF9B000000FFFF
gdt_end:
        .balign 8
        .word 0
gdt_desc:
        .word gdt_end - gdt - 1
        .long gdt

        .code16
Real16:
        cli
        cld
        lgdtl   %cs:(gdt_desc - RESET_CS_BASE)
        movl    %cr0, %eax
        orl     $1, %eax
        movl    %eax, %cr0
        ljmpl   $SEL_CODE32, $Main32

        .code32
        /* Paging is off: every access is private (the C-bit is implied), so the SNP_SEC_MEM pages, validated at
         * launch, can hold the page tables. */
Main32:
        movl    $SEL_DATA, %eax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss

#define ENTRY(at, value, high)  movl $(value), at; movl $(high), at + 4
        ENTRY(PT_PML4 + 0 * 8, PT_PDPT_LO + PTE, CBIT_HI)
        ENTRY(PT_PML4 + 511 * 8, PT_PDPT_HI + PTE, CBIT_HI)
        ENTRY(PT_PDPT_LO + 0 * 8, PT_PD0 + 0x0000 + PTE, CBIT_HI)
        ENTRY(PT_PDPT_LO + 1 * 8, PT_PD0 + 0x1000 + PTE, CBIT_HI)
        ENTRY(PT_PDPT_LO + 2 * 8, PT_PD0 + 0x2000 + PTE, CBIT_HI)
        ENTRY(PT_PDPT_LO + 3 * 8, PT_PD0 + 0x3000 + PTE, CBIT_HI)
        ENTRY(PT_PDPT_HI + 511 * 8, PT_PD0 + 0x3000 + PTE, CBIT_HI)  /* -1 GiB: the PD of 3..4 GiB, the image's 2M */
        movl    $PT_PD0, %edi
        movl    $(PTE + PTE_PS), %eax
        movl    $2048, %ecx
1:      movl    %eax, (%edi)
        movl    $CBIT_HI, 4(%edi)
        addl    $0x200000, %eax
        addl    $8, %edi
        loop    1b
        /* The shared window: 4 MiB from SHARED_WINDOW without the C-bit. */
        movl    $0, PT_PD0 + (SHARED_WINDOW >> 21) * 8 + 4
        movl    $0, PT_PD0 + ((SHARED_WINDOW >> 21) + 1) * 8 + 4

        movl    %cr4, %eax
        orl     $0x20, %eax             /* PAE */
        movl    %eax, %cr4
        movl    $PT_PML4, %eax
        movl    %eax, %cr3
        /* CR3 gets the C-bit (the PML4 is private) once in long mode, where it has 64 bits. */
        movl    $0xC0000080, %ecx       /* EFER.LME */
        rdmsr
        orl     $0x100, %eax
        wrmsr
        movl    %cr0, %eax
        orl     $0x80010001, %eax
        movl    %eax, %cr0
        ljmpl   $SEL_CODE64, $Main64

        .code64
Main64:
        movl    $SEL_DATA, %eax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movabsq $(PT_PML4 | (1 << 51)), %rax
        movq    %rax, %cr3
        movl    $STACK_TOP, %esp
        movabsq $main, %rax
        call    *%rax
2:      hlt
        jmp     2b

        /* ---- SEV metadata ("ASEV"), 0x800 bytes before the end of the image ---- */
        .org    0x800, 0xCC
        .ascii  "ASEV"
        .long   16 + 4 * 12
        .long   1
        .long   4
        .long   SEC_MEM, SEC_MEM_SIZE, 1        /* SNP_SEC_MEM */
        .long   SECRETS, 0x1000, 2              /* SNP_SECRETS */
        .long   CPUID_PAGE, 0x1000, 3           /* CPUID */
        .long   HASHES_PAGE, 0x1000, 0x10       /* SNP_KERNEL_HASHES */

        /* ---- OVMF GUID table: SEV hash table, SEV-ES reset block, SEV metadata offset, footer ending 0x20 before
         * 4 GiB ---- */
        .org    0xF88, 0xCC
        .long   HASH_TABLE, HASH_TABLE_SIZE
        .word   26
        /* SEV hash table GUID 7255371f-3a3b-4b04-927b-1da6efa8d454 */
        .byte   0x1f, 0x37, 0x55, 0x72, 0x3b, 0x3a, 0x04, 0x4b, 0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54
        .long   0xFFFFF000                      /* AP reset EIP (this firmware starts no AP) */
        .word   22
        /* SEV-ES reset block GUID 00f771de-1a7e-4fcb-890e-68c77e2fb44e */
        .byte   0xde, 0x71, 0xf7, 0x00, 0x7e, 0x1a, 0xcb, 0x4f, 0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e
        .long   0x800                           /* the ASEV header is this far from the end */
        .word   22
        /* SEV metadata offset GUID dc886566-984a-4798-a75e-5585a7bf67cc */
        .byte   0x66, 0x65, 0x88, 0xdc, 0x4a, 0x98, 0x98, 0x47, 0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc
        .word   26 + 22 + 22 + 18
        /* table footer GUID 96b582de-1fb2-45f7-baea-a366c55a082d */
        .byte   0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45, 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d

        /* ---- reset vector at 0xFFFFFFF0: real mode, CS.base 0xFFFF0000 ---- */
        .org    0xFF0, 0xCC
        .code16
        jmp     Real16
        .org    0x1000, 0xCC
        .code64

        .section .note.GNU-stack, "", @progbits

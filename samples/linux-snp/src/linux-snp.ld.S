/* Linker script for the Linux SNP firmware; run through cpp first. */
#include "layout.h"

OUTPUT_FORMAT("elf64-x86-64")
OUTPUT_ARCH(i386:x86-64)
ENTRY(main)

SECTIONS
{
    /* Everything but the stub lives in the image, at the ROM alias: firmware pages are validated private memory, so writable. */
    .text (ROM_VIRT_OFFSET + ROM_PHYS) : AT(ROM_PHYS)
    {
        KEEP(*(.romheader))
        *(.text .text.*)
        *(.rodata .rodata.*)
        *(.data .data.*)
        *(.bss .bss.*)
        *(COMMON)
    }
    __image_used_end = LOADADDR(.text) + SIZEOF(.text);

    .stub STUB_PHYS : AT(STUB_PHYS)
    {
        KEEP(*(.stub))
    }

    .got 0 : { *(.got) *(.igot) *(.igot.*) }
    .got.plt 0 : { *(.got.plt) }
    .plt 0 : { *(.plt) *(.plt.*) *(.iplt) }
    .rela.dyn 0 : { *(.rela.*) }

    /DISCARD/ :
    {
        *(.comment) *(.note .note.*) *(.eh_frame .eh_frame_hdr) *(.gnu.attributes)
    }
}

ASSERT(SIZEOF(.got) == 0 && SIZEOF(.plt) == 0 && SIZEOF(.rela.dyn) == 0 && SIZEOF(.got.plt) == 0, "unexpected GOT/PLT/relocations")
ASSERT(SIZEOF(.stub) == 0x1000, "stub must be exactly 4 KiB")
ASSERT(__image_used_end <= STUB_PHYS, "the image overflows into the stub")

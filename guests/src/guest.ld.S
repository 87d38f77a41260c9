/* Linker script for the CocoLaunch test guests; run through cpp first. */
#include "layout.h"

OUTPUT_FORMAT("elf64-x86-64")
OUTPUT_ARCH(i386:x86-64)
ENTRY(main)

SECTIONS
{
    /* C code and constants: in ROM, addressed through the high ROM alias. */
    .text (ROM_VIRT_OFFSET + ROM_PHYS) : AT(ROM_PHYS)
    {
        KEEP(*(.romheader))
        *(.text.unlikely .text.unlikely.*)
        *(.text.startup .text.startup.*)
        *(.text .text.*)
    }
    .rodata ALIGN(64) :
    {
        *(.rodata .rodata.*)
        *(.data.rel.ro .data.rel.ro.*)
    }
    __rom_used_end = LOADADDR(.rodata) + SIZEOF(.rodata);

    /* Initialised data: stored in ROM right after .rodata, copied to RAM. */
    .data (RAM_VIRT_OFFSET + RAM_DATA_PHYS) : AT(ALIGN(__rom_used_end, 16))
    {
        __data_start = .;
        *(.data .data.*)
        . = ALIGN(16);
        __data_end = .;
    }
    __data_lma = LOADADDR(.data);             /* physical ROM address */

    .bss ALIGN(64) (NOLOAD) : AT(ADDR(.bss) - RAM_VIRT_OFFSET)
    {
        __bss_start = .;
        *(.bss .bss.*)
        *(COMMON)
        . = ALIGN(16);
        __bss_end = .;
    }

    /* Large buffers that the workload overwrites completely: not cleared. */
    .noinit ALIGN(4096) (NOLOAD) : AT(ADDR(.noinit) - RAM_VIRT_OFFSET)
    {
        *(.noinit .noinit.*)
        . = ALIGN(4096);
    }
    __ram_end_virt = .;
    __ram_end_phys = . - RAM_VIRT_OFFSET;

    /* Boot stub and reset vector: the last 4 KiB of the ROM, identity. */
    .stub STUB_PHYS : AT(STUB_PHYS)
    {
        KEEP(*(.stub))
    }

    /* Linker-made sections; must all be empty in this static, non-PIC link. */
    .got 0 : { *(.got) *(.igot) *(.igot.*) }
    .got.plt 0 : { *(.got.plt) }
    .plt 0 : { *(.plt) *(.plt.*) *(.iplt) }
    .rela.dyn 0 : { *(.rela.*) }

    /DISCARD/ :
    {
        *(.comment) *(.note .note.*) *(.eh_frame .eh_frame_hdr)
        *(.gnu.attributes)
    }
}

ASSERT(SIZEOF(.got) == 0 && SIZEOF(.plt) == 0 && SIZEOF(.rela.dyn) == 0, "unexpected GOT/PLT/relocations")
ASSERT(SIZEOF(.got.plt) == 0, "unexpected .got.plt")
ASSERT(SIZEOF(.stub) == 0x1000, "stub must be exactly 4 KiB")
ASSERT(LOADADDR(.text) == ROM_PHYS, "ROM must start with .text")
ASSERT(LOADADDR(.data) + SIZEOF(.data) <= STUB_PHYS, "ROM overflow: code+rodata+data reach the stub")
ASSERT(__ram_end_phys <= 0x4000000, "RAM use exceeds the 64 MiB identity map")

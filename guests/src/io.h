/* Port I/O helpers for the test guests (QEMU-compatible debug devices). */
#ifndef GUEST_IO_H
#define GUEST_IO_H

#define PORT_DEBUGCON   0xE9    /* isa-debugcon */
#define PORT_COM1       0x3F8   /* 16550 */
#define COM1_IER        (PORT_COM1 + 1)
#define COM1_LCR        (PORT_COM1 + 3)
#define COM1_MCR        (PORT_COM1 + 4)
#define COM1_LSR        (PORT_COM1 + 5)
#define LSR_THRE        0x20

static inline void outb(unsigned short port, unsigned char v)
{
    __asm__ volatile("outb %b0, %w1" : : "a"(v), "Nd"(port));
}

static inline unsigned char inb(unsigned short port)
{
    unsigned char v;
    __asm__ volatile("inb %w1, %b0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void debugcon_puts(const char *s)
{
    while (*s)
        outb(PORT_DEBUGCON, (unsigned char)*s++);
}

#endif

/*
 * hello: "Hello from CocoLaunch guest\n" on debugcon (0xE9), then the same
 * line once through COM1 (16550 at 0x3F8, polling LSR.THRE), exit code 0x10
 * (isa-debug-exit status 33).
 */
#include "io.h"

static const char message[] = "Hello from CocoLaunch guest\n";

/* In .data on purpose: a wrong or missing .data copy gives a wrong status. */
int exit_code = 0x10;
/* In .bss on purpose: must read as zero. */
int bss_probe;

static void com1_init(void)
{
    outb(COM1_IER, 0x00);       /* no interrupts */
    outb(COM1_LCR, 0x80);       /* DLAB = 1 */
    outb(PORT_COM1 + 0, 0x01);  /* divisor 1: 115200 baud */
    outb(PORT_COM1 + 1, 0x00);
    outb(COM1_LCR, 0x03);       /* 8N1, DLAB = 0 */
    outb(COM1_MCR, 0x03);       /* DTR, RTS */
}

static void com1_putc(char c)
{
    while (!(inb(COM1_LSR) & LSR_THRE))
        ;
    outb(PORT_COM1, (unsigned char)c);
}

int main(void)
{
    debugcon_puts(message);

    com1_init();
    for (const char *p = message; *p; p++)
        com1_putc(*p);

    if (bss_probe != 0)
        return 0x13;
    return exit_code;
}

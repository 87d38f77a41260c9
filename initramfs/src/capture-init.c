/*
 * PID 1 of the capture initramfs (initramfs-capture.cpio.gz), run by hand under QEMU with OVMF and a vTPM
 * (tests/data/ovmf-direct-boot/capture.sh). It prints, base64 between BEGIN/END lines, what the firmware measured and
 * what it measured it from: the TPM event log, the fw_cfg files the firmware read (ACPI blobs, the setup header QEMU
 * patched, the command line) and the UEFI variables it measured. Tests compare cocolaunch's prediction with them.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MODULE_INIT_COMPRESSED_FILE 4
#define LIMIT (8 << 20)

static unsigned char buffer[LIMIT];

static void say(const char *line)
{
    (void)!write(1, line, strlen(line));
}

static void load(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || syscall(SYS_finit_module, fd, "", MODULE_INIT_COMPRESSED_FILE) != 0)
        say("capture: module did not load\n");
    if (fd >= 0)
        close(fd);
}

/* Prints NAME's contents in base64, 76 characters a line, so the host can take them from the serial log. */
static void dump(const char *name, const char *path)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    long size = 0, n;
    char line[200];
    if (fd < 0) {
        snprintf(line, sizeof line, "capture: MISSING %s\n", name);
        say(line);
        return;
    }
    while (size < LIMIT && (n = read(fd, buffer + size, LIMIT - size)) > 0)
        size += n;
    close(fd);
    snprintf(line, sizeof line, "capture: BEGIN %s %ld\n", name, size);
    say(line);
    int k = 0;
    for (long i = 0; i < size; i += 3) {
        unsigned int v = buffer[i] << 16 | (i + 1 < size ? buffer[i + 1] << 8 : 0) | (i + 2 < size ? buffer[i + 2] : 0);
        line[k++] = alphabet[v >> 18 & 63];
        line[k++] = alphabet[v >> 12 & 63];
        line[k++] = i + 1 < size ? alphabet[v >> 6 & 63] : '=';
        line[k++] = i + 2 < size ? alphabet[v & 63] : '=';
        if (k == 76 || i + 3 >= size) {
            line[k++] = '\n';
            (void)!write(1, line, k);
            k = 0;
        }
    }
    snprintf(line, sizeof line, "capture: END %s\n", name);
    say(line);
}

int main(void)
{
    mkdir("/sys", 0755);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL);
    load("/lib/modules/qemu_fw_cfg.ko.xz");
    load("/lib/modules/efivarfs.ko.xz");
    mount("efivarfs", "/sys/firmware/efi/efivars", "efivarfs", MS_RDONLY, NULL);

    dump("eventlog", "/sys/kernel/security/tpm0/binary_bios_measurements");
    dump("etc/table-loader", "/sys/firmware/qemu_fw_cfg/by_name/etc/table-loader/raw");
    dump("etc/acpi/rsdp", "/sys/firmware/qemu_fw_cfg/by_name/etc/acpi/rsdp/raw");
    dump("etc/acpi/tables", "/sys/firmware/qemu_fw_cfg/by_name/etc/acpi/tables/raw");
    dump("etc/tpm/log", "/sys/firmware/qemu_fw_cfg/by_name/etc/tpm/log/raw"); /* allocated when QEMU has a TPM */

    /* Every variable the firmware could have measured: efivarfs files are a u32 attribute word, then the data. */
    DIR *vars = opendir("/sys/firmware/efi/efivars");
    struct dirent *e;
    char path[512];
    while (vars && (e = readdir(vars)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/sys/firmware/efi/efivars/%s", e->d_name);
        dump(e->d_name, path);
    }
    say("capture: DONE\n");
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}

using CocoLaunch.Formats.Linux;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Devices;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Snp;

/// <summary>
/// What an SNP guest with a direct-boot kernel reads from fw_cfg, as QEMU offers it to OVMF's AmdSev build: the
/// kernel file unmodified, as its setup part and the rest (so the firmware hashes the file QEMU hashed into the
/// SNP_KERNEL_HASHES page), the initrd, the command line with its NUL, and the RAM map in QEMU's <c>etc/e820</c>. Our
/// Linux SNP firmware (samples/linux-snp) also reads the ACPI tables, built for the GPA it copies them to.
/// </summary>
public static class SnpLinuxFwCfg
{
    /// <summary>Where samples/linux-snp copies the ACPI tables (its layout.h ACPI_TABLES), and how much room it has there.</summary>
    public const ulong AcpiGpa = 0x82_0000, AcpiRoom = 0x1_0000;

    public const string AcpiFile = "etc/cocolaunch/acpi";

    /// <param name="served">Blobs to serve instead of the measured ones (a VMM lying to the firmware), or null.</param>
    public static FwCfg Build(LaunchContext c, IDmaMemory memory, ServedBlobs? served = null)
    {
        var measured = c.Spec.DirectBoot ?? throw new LaunchException("an SNP Linux boot needs kernel (and initrd, cmdline) in the spec");
        var boot = served is null ? measured : measured with
        {
            KernelPath = served.KernelPath ?? measured.KernelPath,
            InitrdPath = served.InitrdPath ?? measured.InitrdPath,
            Cmdline = served.Cmdline ?? measured.Cmdline,
        };
        byte[] file = Abi.IO.InputFile.ReadAllBytes(boot.KernelPath, Abi.IO.InputFile.BootImageLimit, "kernel");
        BzImage kernel;
        try
        {
            kernel = BzImage.Parse(file);
        }
        catch (KernelFormatException e)
        {
            // fw_cfg serves the kernel as QEMU does, split at its setup header: a file without one cannot be served.
            throw new LaunchException($"kernel {boot.KernelPath}: {e.Message}");
        }


        int setupLength = file.Length - kernel.ProtectedModeKernel.Length;
        byte[] initrd = boot.InitrdPath is { } path ? Abi.IO.InputFile.ReadAllBytes(path, Abi.IO.InputFile.BootImageLimit, "initrd") : [];
        var fwCfg = new FwCfg(memory);
        fwCfg.AddLinuxBoot(file, file.Length - kernel.ProtectedModeKernel.Length, initrd, boot.Cmdline ?? string.Empty);
        fwCfg.AddE820(c.Layout.Where(s => !s.Firmware).Select(s => (s.Gpa.Value, s.Size)));
        var acpi = Acpi.AcpiTables.Build(new Acpi.AcpiPlatform(c.Spec.Vcpus, CmosRtc: true), AcpiGpa);
        if ((ulong)acpi.Bytes.Length > AcpiRoom)
        {
            throw new LaunchException($"the ACPI tables ({acpi.Bytes.Length} bytes) do not fit the firmware's 0x{AcpiRoom:x} bytes at 0x{AcpiGpa:x}");
        }

        fwCfg.AddFile(AcpiFile, acpi.Bytes);
        return fwCfg;
    }
}

/// <summary>
/// A kernel, initrd or command line the VMM serves through fw_cfg in place of the ones it measured into the hashes
/// page: what a host that swaps the blobs after the launch would do, for which the firmware's check exists.
/// </summary>
public sealed record ServedBlobs(string? InitrdPath, string? Cmdline)
{
    public string? KernelPath { get; init; }
}

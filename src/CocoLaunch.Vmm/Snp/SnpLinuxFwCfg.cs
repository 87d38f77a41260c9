using System.Buffers.Binary;
using System.Text;
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

    public const string E820File = "etc/e820", AcpiFile = "etc/cocolaunch/acpi";

    private const uint E820Ram = 1;
    private const int E820EntrySize = 20;

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
        byte[] cmdline = [.. Encoding.UTF8.GetBytes(boot.Cmdline ?? string.Empty), 0];

        var fwCfg = new FwCfg(memory);
        fwCfg.AddU32(FwCfg.SetupSize, (uint)setupLength);
        fwCfg.Add(FwCfg.SetupData, file.AsMemory(..setupLength));
        fwCfg.AddU32(FwCfg.KernelSize, (uint)(file.Length - setupLength));
        fwCfg.Add(FwCfg.KernelData, file.AsMemory(setupLength..));
        fwCfg.AddU32(FwCfg.InitrdSize, (uint)initrd.Length);
        fwCfg.Add(FwCfg.InitrdData, initrd);
        fwCfg.AddU32(FwCfg.CmdlineSize, (uint)cmdline.Length);
        fwCfg.Add(FwCfg.CmdlineData, cmdline);
        fwCfg.AddFile(E820File, E820(c.Layout));
        var acpi = Acpi.AcpiTables.Build(new Acpi.AcpiPlatform(c.Spec.Vcpus, CmosRtc: true), AcpiGpa);
        if ((ulong)acpi.Bytes.Length > AcpiRoom)
        {
            throw new LaunchException($"the ACPI tables ({acpi.Bytes.Length} bytes) do not fit the firmware's 0x{AcpiRoom:x} bytes at 0x{AcpiGpa:x}");
        }

        fwCfg.AddFile(AcpiFile, acpi.Bytes);
        return fwCfg;
    }

    /// <summary>QEMU's etc/e820: packed {u64 address, u64 length, u32 type} per RAM slot (the firmware's slot is not RAM).</summary>
    private static byte[] E820(IReadOnlyList<PlannedSlot> layout)
    {
        var ram = layout.Where(s => !s.Firmware).ToList();
        var bytes = new byte[ram.Count * E820EntrySize];
        for (int i = 0; i < ram.Count; i++)
        {
            var e = bytes.AsSpan(i * E820EntrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(e, ram[i].Gpa.Value);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], ram[i].Size);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], E820Ram);
        }

        return bytes;
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

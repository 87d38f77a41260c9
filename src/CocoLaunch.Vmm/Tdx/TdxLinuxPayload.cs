using System.Text;
using CocoLaunch.Formats.Linux;
using CocoLaunch.Formats.Tdvf;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Boot;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Tdx;

/// <summary>
/// Linux in a TD firmware's TDVF Payload and PayloadParam sections (samples/linux-tdx), PAGE.ADDed and measured
/// into MRTD: the Payload holds the protected-mode kernel at the section's start (the kernel's 64-bit entry is at
/// +0x200) and the initrd at the section's top; the PayloadParam holds the zero page, then the command line at
/// +0x1000, the ACPI tables at +0x2000 and, from +0x8000, the area the firmware writes its event log into (the
/// CCEL table points at it). The firmware adds the e820 map from the TD HOB.
/// </summary>
internal static class TdxLinuxPayload
{
    private const ulong CmdlineOffset = 0x1000, AcpiOffset = 0x2000, EventLogOffset = 0x8000, EventLogSize = 0x8000, Page = 0x1000;

    /// <summary>The Payload section's bytes for the spec's kernel and initrd.</summary>
    public static byte[] Payload(LaunchContext c, TdvfSection payload)
    {
        var (kernel, initrd) = Load(c);
        ulong initrdGpa = InitrdGpa(kernel, initrd, payload);
        var bytes = new byte[payload.MemoryDataSize];
        kernel.ProtectedModeKernel.Span.CopyTo(bytes);
        initrd.CopyTo(bytes.AsSpan((int)(initrdGpa - payload.MemoryAddress.Value)));
        return bytes;
    }

    /// <summary>The PayloadParam section's bytes: the zero page, the command line and the ACPI tables.</summary>
    public static byte[] PayloadParam(LaunchContext c, TdvfSection param, TdvfSection payload)
    {
        var (kernel, initrd) = Load(c);
        string cmdline = c.Spec.DirectBoot?.Cmdline ?? string.Empty;
        ulong baseGpa = param.MemoryAddress.Value;
        var log = new Acpi.CcEventLog(Acpi.CcEventLog.Tdx, EventLogSize, baseGpa + EventLogOffset);
        var acpi = Acpi.AcpiTables.Build(new Acpi.AcpiPlatform(c.Spec.Vcpus, CmosRtc: true, EventLog: log), baseGpa + AcpiOffset);
        if (AcpiOffset + (ulong)acpi.Bytes.Length > EventLogOffset || EventLogOffset + EventLogSize > param.MemoryDataSize
            || (ulong)cmdline.Length >= AcpiOffset - CmdlineOffset)
        {
            throw new LaunchException($"{param.Label}: 0x{param.MemoryDataSize:x} bytes do not hold the command line, the ACPI tables and the event log");
        }

        var bytes = new byte[param.MemoryDataSize];
        LinuxBootParams.BuildWithoutE820(kernel, baseGpa + CmdlineOffset, initrd.Length == 0 ? 0 : InitrdGpa(kernel, initrd, payload), (ulong)initrd.Length, acpi.RsdpGpa)
            .CopyTo(bytes, 0);
        Encoding.ASCII.GetBytes(cmdline).CopyTo(bytes, (int)CmdlineOffset);
        acpi.Bytes.CopyTo(bytes, (int)AcpiOffset);
        return bytes;
    }

    private static (BzImage Kernel, byte[] Initrd) Load(LaunchContext c)
    {
        var boot = c.Spec.DirectBoot ?? throw new LaunchException("the firmware has a TDVF Payload section: the spec needs kernel (and initrd, cmdline)");
        var kernel = BzImage.Parse(Abi.IO.InputFile.ReadAllBytes(boot.KernelPath, 256 << 20, "kernel"));
        byte[] initrd = boot.InitrdPath is { } path ? Abi.IO.InputFile.ReadAllBytes(path, 1 << 30, "initrd") : [];
        return (kernel, initrd);
    }

    /// <summary>The initrd at the payload's top, page-aligned, above the kernel's init_size.</summary>
    private static ulong InitrdGpa(BzImage kernel, byte[] initrd, TdvfSection payload)
    {
        ulong start = payload.MemoryAddress.Value, end = start + payload.MemoryDataSize;
        ulong gpa = (end - (ulong)initrd.Length) & ~(Page - 1);
        if ((ulong)initrd.Length > payload.MemoryDataSize || gpa < start + kernel.InitSize)
        {
            throw new LaunchException($"{payload.Label}: the kernel (init_size 0x{kernel.InitSize:x}) and the {initrd.Length}-byte initrd do not fit its 0x{payload.MemoryDataSize:x} bytes");
        }

        return gpa;
    }
}

using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using CocoLaunch.Abi.IO;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Formats.Tcg;
using CocoLaunch.Formats.Tdvf;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Acpi;
using CocoLaunch.Vmm.Boot;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Tdx;

/// <summary>A predicted event and the inputs its digest depends on, for <c>--explain</c>.</summary>
public sealed record ExplainedEvent(LoggedEvent Event, string DependsOn);

/// <summary>
/// The events OVMF with CC measurement (edk2 ≥ 202408, TdTcg2Dxe) logs while it direct-boots a Linux kernel as a TD,
/// in log order (tdx-mrtd.md §6.4): SEC's TD HOB and CFV, TdTcg2Dxe's Secure Boot variables and separator, the ACPI
/// loader and the blobs it allocates (AcpiPlatformLib), the kernel's Authenticode digest (DxeTpm2MeasureBootLib), the
/// boot variables and the ready-to-boot action and separator, the EFI stub's command line and initrd, and the exit
/// from boot services. Checked event by event against a real OVMF 2025.02 log (tests/data/ovmf-direct-boot).
/// </summary>
public static class TdvfBootEvents
{
    private const uint Rtmr0 = 1, Rtmr1 = 2, Rtmr2 = 3;

    /// <summary>The tags Linux's EFI stub gives its measurements (drivers/firmware/efi/libstub/efi-stub-helper.c).</summary>
    private const uint LoadOptionsTag = 0x8F3B22ED, InitrdTag = 0x8F3B22EC;

    private static readonly Guid GlobalVariable = new("8be4df61-93ca-11d2-aa0d-00e098032b8c");
    private static readonly Guid ImageSecurityDatabase = new("d719b2cb-3d3a-4596-a3bc-dad00e67656f");

    /// <summary>The vendor-media GUID of QemuKernelLoaderFsDxe's file system, in the kernel's device path.</summary>
    private static readonly Guid QemuKernelLoaderFs = new("1428f772-b64a-441e-b8c3-9ebdd7f893c7");

    /// <summary>The events, or null when the spec does not describe an OVMF direct boot (tdx.measured-boot).</summary>
    public static IReadOnlyList<ExplainedEvent>? For(LaunchContext c)
    {
        try
        {
            return Build(c);
        }
        catch (Formats.FirmwareFormatException e)
        {
            throw new LaunchException($"{c.Firmware.Name}: variable store: {e.Describe("CFV")}");
        }
        catch (Formats.Linux.KernelFormatException e)
        {
            throw new LaunchException(e.Describe(c.Spec.DirectBoot!.KernelPath));
        }
    }

    private static List<ExplainedEvent>? Build(LaunchContext c)
    {
        if (c.Spec.Tdx?.MeasuredBoot is not { } boot || c.Spec.DirectBoot is not { } kernel || c.Ovmf?.Tdx.Value is not { } tdvf)
        {
            return null;
        }

        var events = new List<ExplainedEvent>();
        var launch = TdxRtmrReplay.LaunchEvents(c);
        var hob = tdvf.Sections.First(s => s.Type == TdvfSectionType.TdHob);
        var cfv = tdvf.Sections.First(s => s.Type == TdvfSectionType.Cfv);
        events.Add(new(new(Rtmr0, TcgEventType.EfiHandoffTables2, launch[0].Digest, TdxRtmrReplay.HandoffTables(hob.MemoryAddress.Value)), "TD HOB: memory size and layout, TDVF sections"));
        events.Add(new(new(Rtmr0, TcgEventType.EfiPlatformFirmwareBlob2, launch[1].Digest, FirmwareBlob(cfv.MemoryAddress.Value, cfv.RawDataSize)), "CFV: the firmware's variable store"));

        var stored = VariableStore.Read(c.Firmware.Bytes.Span.Slice((int)cfv.DataOffset, (int)cfv.RawDataSize));
        foreach (var (vendor, name) in new[] { (GlobalVariable, "SecureBoot"), (GlobalVariable, "PK"), (GlobalVariable, "KEK"), (ImageSecurityDatabase, "db"), (ImageSecurityDatabase, "dbx") })
        {
            if (stored.FirstOrDefault(v => v.Vendor == vendor && v.Name == name) is not null)
            {
                // Whether the firmware loads them depends on its build: without Secure Boot support (Debian's OVMF.fd)
                // PlatformPei starts an empty emulated store and they are measured empty; with it, they are measured
                // as stored, beside a SecureBoot variable. The image does not say which.
                throw new LaunchException($"{c.Firmware.Name}: the variable store holds {name}: whether this firmware measures it depends on how it was built (Secure Boot support), which RTMR prediction does not cover");
            }

            byte[] data = VariableData(vendor, name, []);
            events.Add(new(new(Rtmr0, TcgEventType.EfiVariableDriverConfig, SHA384.HashData(data), data), $"{name}: absent (a firmware without Secure Boot support, or an empty store)"));
        }

        events.Add(Separator(Rtmr0, "Secure Boot policy measured"));
        events.AddRange(AcpiEvents(boot));

        byte[] kernelFile = InputFile.ReadAllBytes(kernel.KernelPath, InputFile.BootImageLimit, "kernel");
        // The initrd is only hashed (and its length patched into the header): streamed, never held whole.
        var (initrdHash, initrdLength) = kernel.InitrdPath is { } i ? InputFile.HashData(i, InputFile.BootImageLimit, "initrd", HashAlgorithmName.SHA384) : (SHA384.HashData([]), 0L);
        string cmdline = kernel.Cmdline ?? string.Empty;
        byte[] image = QemuLinuxLoader.PatchKernelInPlace(boot.KernelPatch, kernelFile, (ulong)initrdLength, cmdline, c.Spec.Memory.Size);
        events.Add(new(new(Rtmr1, TcgEventType.EfiBootServicesApplication, Formats.Linux.PeImageHash.Sha384(image), ImageLoad((ulong)image.Length)),
            $"kernel: Authenticode of the image QEMU serves ({(boot.KernelPatch == QemuKernelPatch.Qemu72 ? "setup header patched as QEMU 7.2 does, for " + (c.Spec.Memory.Size >> 20) + " MiB" : "unpatched")})"));

        events.AddRange(BootVariables(boot));
        events.Add(Action(Rtmr1, "Calling EFI Application from Boot Option", "ready to boot"));
        events.Add(Separator(Rtmr1, "ready to boot"));

        string options = cmdline + (initrdLength > 0 ? " initrd=initrd" : string.Empty);
        if (options.Length > 0)
        {
            byte[] utf16 = Encoding.Unicode.GetBytes(options + "\0");
            events.Add(new(new(Rtmr2, TcgEventType.EventTag, SHA384.HashData(utf16), TaggedEvent(LoadOptionsTag, "LOADED_IMAGE::LoadOptions")), $"command line \"{options}\" as OVMF passes it (UTF-16, NUL)"));
        }

        if (initrdLength > 0)
        {
            events.Add(new(new(Rtmr2, TcgEventType.EventTag, initrdHash, TaggedEvent(InitrdTag, "Linux initrd")), $"initrd: {initrdLength} bytes"));
        }

        events.Add(Action(Rtmr1, "Exit Boot Services Invocation", "the kernel leaves boot services"));
        events.Add(Action(Rtmr1, "Exit Boot Services Returned with Success", "the kernel leaves boot services"));
        return events;
    }

    /// <summary>The loader script, then each blob in the order its ALLOCATE commands name them (AcpiPlatformLib).</summary>
    private static IEnumerable<ExplainedEvent> AcpiEvents(TdxMeasuredBootSpec boot)
    {
        const string Loader = "etc/table-loader";
        byte[] loader = InputFile.ReadAllBytes(boot.FwCfgFiles[Loader], 1 << 20, "tdx.measured-boot.fw-cfg." + Loader);
        yield return AcpiData(loader, Loader);
        foreach (string name in QemuTableLoader.AllocatedFiles(loader, boot.FwCfgFiles[Loader]))
        {
            if (!boot.FwCfgFiles.TryGetValue(name, out string? path))
            {
                throw new LaunchException($"{boot.FwCfgFiles[Loader]}: the loader allocates fw_cfg file '{name}', which tdx.measured-boot.fw-cfg does not give");
            }

            yield return AcpiData(InputFile.ReadAllBytes(path, 16 << 20, "tdx.measured-boot.fw-cfg." + name), name);
        }
    }

    private static ExplainedEvent AcpiData(byte[] blob, string name) =>
        new(new(Rtmr0, TcgEventType.PlatformConfigFlags, SHA384.HashData(blob), "ACPI DATA"u8.ToArray()), $"fw_cfg {name}: {blob.Length} bytes as QEMU serves it");

    /// <summary>BootOrder, then each Boot#### it names; the digest covers the variable's data alone (TdTcg2Dxe MeasureVariable).</summary>
    private static IEnumerable<ExplainedEvent> BootVariables(TdxMeasuredBootSpec boot)
    {
        byte[] order = EfivarfsData(boot.BootOrder, "tdx.measured-boot.boot-order");
        if (order.Length % 2 != 0 || order.Length / 2 != boot.BootOptions.Count)
        {
            throw new LaunchException($"{boot.BootOrder}: BootOrder lists {order.Length / 2} options, the spec gives {boot.BootOptions.Count} (tdx.measured-boot.boot-options)");
        }

        yield return BootVariable("BootOrder", order);
        for (int i = 0; i < boot.BootOptions.Count; i++)
        {
            string name = $"Boot{BinaryPrimitives.ReadUInt16LittleEndian(order.AsSpan(2 * i)):X4}";
            yield return BootVariable(name, EfivarfsData(boot.BootOptions[i], $"tdx.measured-boot.boot-options[{i}]"));
        }
    }

    private static ExplainedEvent BootVariable(string name, byte[] data) =>
        new(new(Rtmr0, TcgEventType.EfiVariableBoot, SHA384.HashData(data), VariableData(GlobalVariable, name, data)), $"{name}: {data.Length} bytes the firmware's boot manager wrote");

    /// <summary>An efivarfs file is the variable's attributes (u32), then its data; a boot variable is at least boot-service accessible.</summary>
    private static byte[] EfivarfsData(string path, string key)
    {
        const uint BootServiceAccess = 0x2, KnownAttributes = 0x7F;
        byte[] file = InputFile.ReadAllBytes(path, 1 << 20, key);
        uint attributes = file.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(file) : 0;
        return file.Length >= 4 && (attributes & BootServiceAccess) != 0 && (attributes & ~KnownAttributes) == 0
            ? file[4..]
            : throw new LaunchException($"{path}: {key}: not an efivarfs variable file (it starts with the attributes word; got {(file.Length < 4 ? $"{file.Length} bytes" : $"0x{attributes:x}")})");
    }

    private static ExplainedEvent Separator(uint mr, string why) =>
        new(new(mr, TcgEventType.Separator, SHA384.HashData(new byte[4]), new byte[4]), $"separator: {why}");

    private static ExplainedEvent Action(uint mr, string text, string why) =>
        new(new(mr, TcgEventType.EfiAction, SHA384.HashData(Encoding.ASCII.GetBytes(text)), Encoding.ASCII.GetBytes(text)), why);

    /// <summary>UEFI_VARIABLE_DATA: vendor GUID, name length in characters, data length, UTF-16 name without NUL, data.</summary>
    private static byte[] VariableData(Guid vendor, string name, byte[] data)
    {
        byte[] utf16 = Encoding.Unicode.GetBytes(name);
        var bytes = new byte[32 + utf16.Length + data.Length];
        vendor.TryWriteBytes(bytes);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16), (ulong)name.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(24), (ulong)data.Length);
        utf16.CopyTo(bytes, 32);
        data.CopyTo(bytes, 32 + utf16.Length);
        return bytes;
    }

    /// <summary>PLATFORM_FIRMWARE_BLOB2 as TDVF's SEC writes it for the CFV: a placeholder name, then base and length.</summary>
    private static byte[] FirmwareBlob(ulong gpa, ulong size)
    {
        byte[] description = "Fv(XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)\0"u8.ToArray();
        var bytes = new byte[1 + description.Length + 16];
        bytes[0] = (byte)description.Length;
        description.CopyTo(bytes, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(1 + description.Length), gpa);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(9 + description.Length), size);
        return bytes;
    }

    /// <summary>
    /// UEFI_IMAGE_LOAD_EVENT for the kernel, with its device path (QemuKernelLoaderFs vendor node, file "kernel").
    /// The load address is the firmware's allocation, which the launch does not decide: it is written as 0. Replay
    /// and event checks use the digest, which does not cover this data.
    /// </summary>
    private static byte[] ImageLoad(ulong length)
    {
        byte[] file = Encoding.Unicode.GetBytes("kernel\0");
        int pathLength = 20 + 4 + file.Length + 4;
        var bytes = new byte[32 + pathLength];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), length);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(24), (ulong)pathLength);
        var path = bytes.AsSpan(32);
        path[0] = 4; // media device path, vendor
        path[1] = 3;
        BinaryPrimitives.WriteUInt16LittleEndian(path[2..], 20);
        QemuKernelLoaderFs.TryWriteBytes(path[4..]);
        path[20] = 4; // media device path, file path
        path[21] = 4;
        BinaryPrimitives.WriteUInt16LittleEndian(path[22..], (ushort)(4 + file.Length));
        file.CopyTo(path[24..]);
        path[^4] = 0x7F; // end of the whole path
        path[^3] = 0xFF;
        BinaryPrimitives.WriteUInt16LittleEndian(path[^2..], 4);
        return bytes;
    }

    /// <summary>TCG_PCClientTaggedEvent: tag, size, and the stub's description with its NUL.</summary>
    private static byte[] TaggedEvent(uint tag, string description)
    {
        byte[] text = Encoding.ASCII.GetBytes(description + "\0");
        var bytes = new byte[8 + text.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, tag);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)text.Length);
        text.CopyTo(bytes, 8);
        return bytes;
    }
}

using CocoLaunch.Abi;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Formats.Sev;
using CocoLaunch.Formats.Tdvf;

namespace CocoLaunch.Cli;

/// <summary>What a platform's launch needs from the firmware, checked before anything is launched.</summary>
internal static class FirmwareRequirements
{
    /// <summary>Returns the first reason the firmware cannot launch this platform, or null when it can.</summary>
    public static string? Check(OvmfFirmware fw, KvmVmType platform, int vcpus, bool directBoot) => platform switch
    {
        KvmVmType.Tdx => CheckTdx(fw, directBoot),
        KvmVmType.Snp => CheckSev(fw, platform, vcpus, directBoot),
        KvmVmType.SevEs or KvmVmType.Sev => CheckSev(fw, platform, vcpus, directBoot),
        _ => null,
    };

    private static string? CheckTdx(OvmfFirmware fw, bool directBoot)
    {
        if (fw.Tdx.Error is { } error)
        {
            return error.Describe(fw.Image.Name);
        }

        if (fw.Tdx.Value is not { } tdvf)
        {
            return $"{fw.Image.Name}: no TDX metadata (the OVMF GUID table has no {OvmfGuids.TdxMetadataOffset} entry); a TDX launch needs a TDVF build";
        }

        // Payload and PayloadParam carry a direct-boot kernel, as Cloud Hypervisor loads them for td-shim; QEMU takes neither.
        var bad = tdvf.Sections.FirstOrDefault(s => !s.IsQemuType && s.Type is not (TdvfSectionType.Payload or TdvfSectionType.PayloadParam));
        if (bad is not null)
        {
            return $"{fw.Image.Name}: offset 0x{bad.EntryOffset:x}: {bad.Label} cannot be loaded: the launch takes BFV, CFV, TD_HOB and TempMem (as QEMU), and Payload and PayloadParam with a kernel (as Cloud Hypervisor)";
        }

        if (tdvf.Sections.FirstOrDefault(s => s.Type is TdvfSectionType.Payload or TdvfSectionType.PayloadParam) is { } payload && !directBoot)
        {
            return $"{fw.Image.Name}: offset 0x{payload.EntryOffset:x}: {payload.Label} carries a kernel: the spec needs kernel (and initrd, cmdline)";
        }

        return tdvf.Sections.Any(s => s.Type == TdvfSectionType.Bfv) ? null : $"{fw.Image.Name}: TDX metadata has no BFV section, so there is no firmware code to measure";
    }

    private static string? CheckSev(OvmfFirmware fw, KvmVmType platform, int vcpus, bool directBoot)
    {
        if (fw.Sev.Error is { } error)
        {
            return error.Describe(fw.Image.Name);
        }

        if (fw.Sev.Value is not { } sev)
        {
            return $"{fw.Image.Name}: no SEV information in the OVMF GUID table; this firmware was not built for SEV";
        }

        if (platform == KvmVmType.Snp)
        {
            if (sev.Metadata is null)
            {
                return $"{fw.Image.Name}: no SEV metadata (no {OvmfGuids.SevMetadataOffset} entry); SNP needs the pre-validated sections it lists";
            }

            var unknown = sev.Metadata.Sections.FirstOrDefault(s => !s.IsKnownType);
            if (unknown is not null)
            {
                return $"{fw.Image.Name}: offset 0x{unknown.EntryOffset:x}: {unknown.Label} has a type SNP cannot measure";
            }
        }

        if (platform != KvmVmType.Sev && sev.ApResetEip is null)
        {
            return $"{fw.Image.Name}: no SEV-ES reset block ({OvmfGuids.SevEsResetBlock}); SEV-ES and SNP APs need its entry point";
        }

        if (platform != KvmVmType.Sev && vcpus > 1 && sev.ApResetEip == 0)
        {
            return $"{fw.Image.Name}: the SEV-ES reset block's AP entry point is 0, so the {vcpus - 1} application processor(s) cannot start";
        }

        return directBoot ? CheckHashTable(fw, sev, platform) : null;
    }

    private static string? CheckHashTable(OvmfFirmware fw, SevFirmwareInfo sev, KvmVmType platform)
    {
        if (platform == KvmVmType.Snp)
        {
            var section = sev.Metadata!.Sections.FirstOrDefault(s => s.Type == SevSectionType.SnpKernelHashes);
            if (section is null)
            {
                return $"{fw.Image.Name}: a measured direct boot (kernel) needs an SNP_KERNEL_HASHES section in the SEV metadata, and this firmware has none (snp.kernel-hashes: off boots the kernel unmeasured, as QEMU's kernel-hashes=off does)";
            }

            if (section.Size != PageSize.Size4K)
            {
                return $"{fw.Image.Name}: offset 0x{section.EntryOffset:x}: {section.Label} is 0x{section.Size:x} bytes; the hashes page must be exactly 4 KiB";
            }

            if (sev.HashTable is not { IsEmpty: false } t || !section.Contains(t.Base) || !section.Contains(t.Base + t.Size - 1))
            {
                return $"{fw.Image.Name}: the SEV hash table entry does not point inside {section.Label}";
            }

            return null;
        }

        return sev.HashTable is { Base: not 0 }
            ? null
            : $"{fw.Image.Name}: a measured direct boot (kernel) needs the SEV hash table entry ({OvmfGuids.SevHashTable}) with a non-zero base, and this firmware has none";
    }
}

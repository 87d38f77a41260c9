using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Formats.Sev;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Snp;

/// <summary>The SNP part of the launch recipe, in QEMU's order (snp-launch-digest.md §3.1).</summary>
internal static class SnpLaunchSteps
{
    private const ulong Page = PageSize.Size4K;

    public static void LaunchStart(LaunchContext c)
    {
        c.RequireVm().MeasurementLog = c.Log;
        c.RequireVm().MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchStart, Data = new KvmSevSnpLaunchStart { Policy = c.Spec.Snp!.Policy } });
    }

    /// <summary>The whole firmware as NORMAL pages, or, given a precomputed firmware digest, a resume from it.</summary>
    public static void LaunchUpdateFirmware(LaunchContext c)
    {
        c.Log.Section = "firmware";
        if (c.Spec.Snp!.OvmfHash is { } precomputed)
        {
            // A measurement shortcut, not a hardware path: the PSP has no way to skip pages.
            c.Loaded?.NotFromPages("snp.ovmf-hash resumes the digest from a precomputed firmware hash, so the firmware's pages are not loaded");
            c.RequireVm().Snp!.ResumeDigest(precomputed, c.Firmware.LoadAddress);
        }
        else
        {
            Update(c, SnpPageType.Normal, c.Firmware.LoadAddress, (ulong)c.Firmware.Size, c.Kvm.Host.MapFile(c.Firmware.Bytes));
        }

        if (c.Spec.Snp.Svsm is { } spec)
        {
            // Then the SVSM's pages, as sev-snp-measure's snp:svsm mode orders them.
            var svsm = c.Svsm = SvsmImage.Load(spec, c.Firmware.LoadAddress);
            c.Log.Section = "SVSM";
            Update(c, SnpPageType.Normal, svsm.Gpa, (ulong)svsm.Image.Size, c.Kvm.Host.MapFile(svsm.Image.Bytes));
        }

        c.Log.Section = string.Empty;
    }

    /// <summary>Each SEV metadata section by type, in table order (never sorted): the SVSM's when there is one, not the firmware's.</summary>
    public static void LaunchUpdate(LaunchContext c)
    {
        var sev = Sev(c);
        var vmm = c.Spec.Snp!.VmmType;
        foreach (var s in sev.Metadata!.Sections)
        {
            if (vmm.IsEc2() && s.Type == SevSectionType.Cpuid)
            {
                continue; // EC2's VMM measures the CPUID page after every other section (below)
            }

            c.Log.Section = $"SEV #{s.Index} {s.TypeName}";
            switch (s.Type)
            {
                case SevSectionType.SnpSecMem when vmm == VmmType.Gce:
                    Update(c, SnpPageType.Unmeasured, s.Gpa, s.Size, c.Kvm.Host.Map(s.Size)); // GCE does not measure pre-validated memory
                    break;
                case SevSectionType.SnpSecMem or SevSectionType.SvsmCaa:
                    Update(c, SnpPageType.Zero, s.Gpa, s.Size, default);
                    break;
                case SevSectionType.SnpSecrets:
                    Update(c, SnpPageType.Secrets, s.Gpa, Page, c.Kvm.Host.Map(Page));
                    break;
                case SevSectionType.Cpuid:
                    // The CPUID page's contents are not part of the digest; the firmware checks them separately.
                    Update(c, SnpPageType.Cpuid, s.Gpa, Page, CpuidPage(c));
                    break;
                case SevSectionType.SnpKernelHashes when c.Spec.MeasuredDirectBoot is { } boot:
                    var page = c.Kvm.Host.Map(Page);
                    c.Kvm.Host.Write(new Memory.Hva(page.Value + (sev.HashTable!.Base & 0xFFF)), HashTable(boot));
                    Update(c, SnpPageType.Normal, s.Gpa, Page, page);
                    break;
                case SevSectionType.SnpKernelHashes:
                    Update(c, SnpPageType.Zero, s.Gpa, s.Size, default);
                    break;
                default:
                    throw new LaunchException($"{s.Label}: unknown OVMF metadata section type");
            }
        }

        foreach (var s in sev.Metadata.Sections.Where(s => vmm.IsEc2() && s.Type == SevSectionType.Cpuid))
        {
            c.Log.Section = $"SEV #{s.Index} {s.TypeName}";
            Update(c, SnpPageType.Cpuid, s.Gpa, Page, CpuidPage(c));
        }

        c.Log.Section = string.Empty;
    }

    /// <summary>Each vCPU's reset state as a VMSA — vCPU 0 at the reset vector, the others at the AP reset EIP — then LAUNCH_FINISH.</summary>
    public static void LaunchFinish(LaunchContext c)
    {
        var snp = c.Spec.Snp!;
        var sev = Sev(c);
        var profile = ProfileOf(snp.VmmType);
        for (int i = 0; i < c.Vcpus.Count; i++)
        {
            if (c.Svsm is { } svsm)
            {
                c.Vcpus[i].SevEsSaveArea = Vmsa.BuildSvsm(svsm.Entry, snp.Vcpu?.Signature ?? 0); // every vCPU enters the SVSM
                continue;
            }

            uint eip = i == 0 ? Vmsa.BspResetEip : sev.ApResetEip ?? throw new LaunchException("the firmware has no SEV-ES reset block for the APs");
            c.Vcpus[i].SevEsSaveArea = Vmsa.Build(eip, profile, snp.Vcpu?.Signature ?? 0, snp.GuestFeatures, snp.VmmType == VmmType.QemuLegacyInit);
        }

        if (snp.IdBlock is not null && snp.IdAuth is null)
        {
            throw new LaunchException("snp.id-block needs snp.id-auth: the firmware verifies the block's signature at LAUNCH_FINISH");
        }

        Finish(c, snp.IdBlock is { } block ? (block, snp.IdAuth!) : null, "snp.id-block", "VMSA");
    }

    /// <summary>
    /// KVM_SEV_SNP_LAUNCH_FINISH once every vCPU has its VMSA: KVM measures them, then the firmware checks the ID
    /// block, when there is one, against the digest; <paramref name="idLabel"/> names where the block came from,
    /// <paramref name="vmsaSection"/> what the VMSAs are attributed to in the measurement log.
    /// </summary>
    internal static void Finish(LaunchContext c, (byte[] Block, byte[] Auth)? id, string idLabel, string vmsaSection)
    {
        var finish = new KvmSevSnpLaunchFinish { HostData = c.Spec.Snp!.HostData };
        if (id is var (idBlock, idAuth))
        {
            finish.IdBlockEn = 1;
            finish.IdBlockUaddr = HostCopy(c, idBlock).Value;
            finish.IdAuthUaddr = HostCopy(c, idAuth).Value;

            // QEMU's author-key-enabled; an ID auth with an author key in it means the author signed the ID key.
            finish.AuthKeyEn = IdAuth.AuthorKey(idAuth).ContainsAnyExcept((byte)0) ? (byte)1 : (byte)0;
        }

        c.Log.Section = vmsaSection;
        try
        {
            c.RequireVm().MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchFinish, Data = finish });
        }
        catch (KvmException e) when (id is not null && e.Errno == Errno.EIO)
        {
            throw new LaunchException($"{idLabel}: the firmware refused it at LAUNCH_FINISH: {e.Message}");
        }

        c.Log.Section = string.Empty;
        c.LaunchDigest = c.RequireVm().Snp!.LaunchDigest;
    }

    /// <summary>The CPUID page the VMM fills, as QEMU does, from the vCPU's CPUID table.</summary>
    private static Memory.Hva CpuidPage(LaunchContext c) => HostCopy(c, SnpCpuidTable.Page());

    internal static Memory.Hva HostCopy(LaunchContext c, byte[] bytes)
    {
        var at = c.Kvm.Host.Map(((ulong)bytes.Length + Page - 1) / Page * Page);
        c.Kvm.Host.Write(at, bytes);
        return at;
    }

    /// <summary>The VMSA conventions of the VMM the spec names.</summary>
    internal static VmsaProfile ProfileOf(VmmType vmm) => vmm switch
    {
        VmmType.Ec2 => VmsaProfile.Ec2,
        VmmType.Ec2Rdx0 => VmsaProfile.Ec2Rdx0,
        VmmType.Gce => VmsaProfile.Gce,
        VmmType.Qemu or VmmType.QemuLegacyInit => VmsaProfile.Qemu,
        _ => throw new LaunchException($"VMM type {vmm} has no VMSA profile"),
    };

    private static SevFirmwareInfo Sev(LaunchContext c) =>
        c.Svsm?.Sev ?? (c.Ovmf?.Sev.Value is { Metadata: not null } sev ? sev : throw new LaunchException("the firmware has no SEV metadata"));

    private static byte[] HashTable(DirectBootSpec boot) =>
        SevHashTable.FromFiles(boot.KernelPath, boot.InitrdPath, boot.Cmdline);

    /// <summary>One KVM_SEV_SNP_LAUNCH_UPDATE, repeated until KVM reports the whole range done (it may stop at a slot end).</summary>
    internal static void Update(LaunchContext c, SnpPageType type, Gpa gpa, ulong size, Memory.Hva source)
    {
        var cmd = new KvmSevCmd
        {
            Id = KvmSevCmdId.SnpLaunchUpdate,
            Data = new KvmSevSnpLaunchUpdate { GfnStart = gpa.Value / Page, Uaddr = source.Value, Len = size, Type = (byte)type },
        };
        while (((KvmSevSnpLaunchUpdate)cmd.Data!).Len > 0)
        {
            c.RequireVm().MemoryEncryptOp(cmd);
        }

        c.Loaded?.Add(c, gpa, size, KindOf(type), type == SnpPageType.Zero ? default : source);
    }

    private static LoadedPageKind KindOf(SnpPageType type) => type switch
    {
        SnpPageType.Normal => LoadedPageKind.Measured,
        SnpPageType.Zero => LoadedPageKind.Zero,
        SnpPageType.Unmeasured => LoadedPageKind.Unmeasured,
        SnpPageType.Secrets => LoadedPageKind.Secrets,
        SnpPageType.Cpuid => LoadedPageKind.Cpuid,
        _ => throw new LaunchException($"page type {type} is measured at LAUNCH_FINISH, not loaded by LAUNCH_UPDATE"),
    };
}

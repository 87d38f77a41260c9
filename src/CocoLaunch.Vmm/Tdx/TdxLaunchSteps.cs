using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Formats.Tdvf;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Tdx;

/// <summary>The TDX part of the launch recipe, as upstream QEMU + KVM perform it (tdx-mrtd.md §4.1).</summary>
internal static class TdxLaunchSteps
{
    private const ulong Page = PageSize.Size4K;

    /// <summary>QEMU's GPAW: 48 bits, so the shared bit is 47 (4-level EPT).</summary>
    private const uint GuestPhysAddressWidth = 48;

    public static void InitVm(LaunchContext c)
    {
        var tdx = c.Spec.Tdx!;
        c.RequireVm().MeasurementLog = c.Log;
        c.RequireVm().MemoryEncryptOp(new KvmTdxCmd
        {
            Id = KvmTdxCmdId.InitVm,
            Data = new KvmTdxInitVm
            {
                Attributes = tdx.Attributes,
                Xfam = tdx.Xfam,
                MrConfigId = tdx.MrConfigId,
                MrOwner = tdx.MrOwner,
                MrOwnerConfig = tdx.MrOwnerConfig,
                Cpuid = [KvmTdxInitVm.GuestPhysBits(GuestPhysAddressWidth)],
            },
        });
    }

    /// <summary>Every vCPU starts with RCX = the TD HOB's GPA, where TDVF looks for it.</summary>
    public static void InitVcpus(LaunchContext c)
    {
        ulong hob = HobSection(c)?.MemoryAddress.Value ?? 0;
        foreach (var vcpu in c.Vcpus)
        {
            vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = hob });
        }
    }

    /// <summary>
    /// Every TDVF section in metadata order — never sorted — each page PAGE.ADDed, and MR.EXTENDed when the
    /// section asks for it: single-pass per page by default, or all adds then all extends per section (two-pass).
    /// </summary>
    public static void InitMemRegions(LaunchContext c)
    {
        var profile = c.Spec.Tdx!.Measurement;
        var vcpu = c.Vcpus.FirstOrDefault() ?? throw new LaunchException("step tdx-init-mem-region: the TD has no vCPU");
        foreach (var section in Metadata(c).Sections)
        {
            if (profile.PageAug == TdxPageAug.Skip && section.Attributes.HasFlag(TdvfSectionAttributes.PageAug))
            {
                continue; // aug-skip: left for TDH.MEM.PAGE.AUG after the build, unmeasured
            }

            c.Log.Section = $"TDVF #{section.Index} {section.TypeName}";
            var source = Source(c, section, profile.ShortSectionData);
            bool extend = section.Attributes.HasFlag(TdvfSectionAttributes.MrExtend);
            bool twoPass = profile.Order == TdxPageOrder.TwoPass;
            var region = new KvmTdxInitMemRegion { SourceAddr = source.Value, Gpa = section.MemoryAddress.Value, NrPages = section.PageCount };
            var cmd = new KvmTdxCmd { Id = KvmTdxCmdId.InitMemRegion, Flags = extend && !twoPass ? KvmTdxFlags.MeasureMemoryRegion : 0, Data = region };
            vcpu.MemoryEncryptOp(cmd);
            if (extend && twoPass)
            {
                vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.ExtendMemory, Data = region });
                c.Loaded?.NotFromPages($"{section.Label} is measured two-pass (every PAGE.ADD, then every MR.EXTEND), an order page-by-page directives cannot express");
            }

            c.Loaded?.Add(c, section.MemoryAddress, section.PageCount * Page, extend ? LoadedPageKind.Measured : LoadedPageKind.Unmeasured, source);
        }

        c.Log.Section = string.Empty;
    }

    public static void Finalize(LaunchContext c)
    {
        c.RequireVm().MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm });
        c.Mrtd = c.RequireVm().Td!.Mrtd;
    }

    private static TdvfMetadata Metadata(LaunchContext c) =>
        c.Ovmf?.Tdx.Value ?? throw new LaunchException("the firmware has no usable TDX metadata");

    private static TdvfSection? HobSection(LaunchContext c) => Metadata(c).Sections.FirstOrDefault(s => s.Type == TdvfSectionType.TdHob);

    /// <summary>
    /// The section's source, as KVM_TDX_INIT_MEM_REGION reads it: BFV/CFV straight from the firmware image
    /// mapped read-only (QEMU passes a pointer into its ROM copy; past RawDataSize more image bytes follow, or
    /// zeros under zero-fill), the TD HOB QEMU builds, or zero pages for TempMem.
    /// </summary>
    private static Memory.Hva Source(LaunchContext c, TdvfSection s, TdxShortSectionData shortData)
    {
        switch (s.Type)
        {
            case TdvfSectionType.Bfv or TdvfSectionType.Cfv:
                ulong copy = shortData == TdxShortSectionData.ZeroFill ? s.RawDataSize : s.MemoryDataSize;
                if (s.DataOffset + copy > (ulong)c.Firmware.Size)
                {
                    throw new LaunchException($"{s.Label}: the image has no bytes for [0x{s.DataOffset:x},0x{s.DataOffset + copy:x}) (file size 0x{c.Firmware.Size:x}); QEMU would read past the image, so use short-section-data: zero-fill or fix the metadata");
                }

                if (copy == s.MemoryDataSize)
                {
                    return c.Kvm.Host.MapFile(c.Firmware.Bytes.Slice((int)s.DataOffset, (int)copy));
                }

                var buffer = c.Kvm.Host.Map(s.MemoryDataSize);
                c.Kvm.Host.Write(buffer, c.Firmware.Bytes.Span.Slice((int)s.DataOffset, (int)copy));
                return buffer;
            case TdvfSectionType.TdHob:
                var ram = c.Layout.Where(p => !p.Firmware).Select(p => (p.Gpa.Value, p.Size));
                c.TdHob = TdHobBuilder.Build(s.MemoryAddress, TdHobBuilder.Resources(ram, Metadata(c).Sections));
                var hob = c.Kvm.Host.Map(s.MemoryDataSize);
                c.Kvm.Host.Write(hob, c.TdHob);
                return hob;
            case TdvfSectionType.Payload:
                return Mapped(c, TdxLinuxPayload.Payload(c, s));
            case TdvfSectionType.PayloadParam:
                var payload = Metadata(c).Sections.FirstOrDefault(p => p.Type == TdvfSectionType.Payload)
                    ?? throw new LaunchException($"{s.Label}: a PayloadParam section without a Payload section");
                return Mapped(c, TdxLinuxPayload.PayloadParam(c, s, payload));
            default:
                return c.Kvm.Host.Map(s.MemoryDataSize);
        }
    }

    private static Memory.Hva Mapped(LaunchContext c, byte[] bytes)
    {
        var hva = c.Kvm.Host.Map((ulong)bytes.Length);
        c.Kvm.Host.Write(hva, bytes);
        return hva;
    }
}

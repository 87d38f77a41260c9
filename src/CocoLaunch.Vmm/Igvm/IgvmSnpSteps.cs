using CocoLaunch.Firmware.Snp;
using CocoLaunch.Formats.Igvm;
using CocoLaunch.Kvm;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>
/// The SNP directives through KVM_SEV_SNP_LAUNCH_UPDATE, with the page types igvmmeasure and the igvm crate give
/// them (formats-and-peers.md §3.2): data as NORMAL, zero pages as NORMAL zeros (or ZERO), unmeasured pages and
/// parameter areas as UNMEASURED, SECRETS and CPUID as themselves, shared pages not at all; VMSAs at LAUNCH_FINISH.
/// </summary>
internal static class IgvmSnpSteps
{
    public static void Directives(LaunchContext c)
    {
        var input = c.Igvm!;
        IgvmDirective.Walk(c, (h, areas) =>
        {
            switch (h)
            {
                case IgvmPageData p:
                    var data = input.DataOf(p.FileOffset, p.Size);
                    Snp.SnpLaunchSteps.Update(c, TypeOf(p, input.ZeroPages), p.Gpa, p.Size, IgvmDirective.Source(c, data, p.Size));
                    break;
                case IgvmParameterInsert insert:
                    // The host fills parameter areas, so they are inserted unmeasured; the guest must check them.
                    var area = areas[insert.AreaIndex];
                    Snp.SnpLaunchSteps.Update(c, SnpPageType.Unmeasured, insert.Gpa, area.Bytes, IgvmDirective.Source(c, input.DataOf(area.FileOffset, area.Bytes), area.Bytes));
                    break;
                case IgvmVpContext vp:
                    c.Vcpus[vp.VpIndex].SevEsSaveArea = input.DataOf(vp.FileOffset, IgvmLaunchInput.Page).ToArray();
                    break;
            }
        });
    }

    /// <summary>LAUNCH_FINISH: KVM measures the file's VMSAs at its fixed GPA, then the firmware checks the file's ID block.</summary>
    public static void LaunchFinish(LaunchContext c)
    {
        var input = c.Igvm!;
        var contexts = input.Directives.OfType<IgvmVpContext>().OrderBy(vp => vp.VpIndex).ToList();
        string section = contexts.Count == 1 ? IgvmLaunchInput.SectionOf(contexts[0]) : $"IGVM VP_CONTEXT {string.Join(", ", contexts.Select(vp => $"#{vp.Index}"))}";
        var block = input.Directives.OfType<IgvmSnpIdBlock>().FirstOrDefault();
        var id = block is null ? ((byte[], byte[])?)null : IgvmIdBlock.ToSnp(block.Identity, c.Spec.Snp!.Policy);
        Snp.SnpLaunchSteps.Finish(c, id, block is null ? "IGVM_VHT_SNP_ID_BLOCK" : $"{block.Label} at offset 0x{block.Offset:x}", section);
    }

    private static SnpPageType TypeOf(IgvmPageData p, IgvmZeroPages zeroPages) => p.DataType switch
    {
        IgvmPageDataType.Secrets => SnpPageType.Secrets,
        IgvmPageDataType.CpuidData or IgvmPageDataType.CpuidXf => SnpPageType.Cpuid,
        _ when p.Flags.HasFlag(IgvmPageDataFlags.Unmeasured) => SnpPageType.Unmeasured,
        _ when p.IsZeroPage && zeroPages == IgvmZeroPages.Native => SnpPageType.Zero,
        _ => SnpPageType.Normal,
    };
}

using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Formats.Igvm;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>
/// The TDX directives through KVM_TDX_INIT_MEM_REGION, as the igvm crate measures them (tdx-mrtd.md §2): every
/// private page PAGE.ADDed, and MR.EXTENDed unless unmeasured (zero pages are extended as zeros); parameter areas
/// added unmeasured; shared pages not at all.
/// </summary>
internal static class IgvmTdxSteps
{
    /// <summary>TDVF finds its TD HOB through RCX: the HOB among the file's pages when a spec launch found one, else 0 (RCX is not measured).</summary>
    public static void InitVcpus(LaunchContext c)
    {
        ulong hob = c.Igvm!.TdHob?.Value ?? 0;
        foreach (var vcpu in c.Vcpus)
        {
            vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = hob });
        }
    }

    public static void Directives(LaunchContext c)
    {
        var input = c.Igvm!;
        var vcpu = c.Vcpus.FirstOrDefault() ?? throw new LaunchException("step igvm-directives: the TD has no vCPU");
        IgvmDirective.Walk(c, (h, areas) =>
        {
            switch (h)
            {
                case IgvmPageData p:
                    var data = input.DataOf(p.FileOffset, p.Size);
                    Add(vcpu, p.Gpa, p.Size, IgvmDirective.Source(c, data, p.Size), extend: !p.Flags.HasFlag(IgvmPageDataFlags.Unmeasured));
                    break;
                case IgvmParameterInsert insert:
                    var area = areas[insert.AreaIndex];
                    Add(vcpu, insert.Gpa, area.Bytes, IgvmDirective.Source(c, input.DataOf(area.FileOffset, area.Bytes), area.Bytes), extend: false);
                    break;
            }
        });
    }

    private static void Add(Kvm.VcpuFd vcpu, Gpa gpa, ulong size, Memory.Hva source, bool extend)
    {
        var region = new KvmTdxInitMemRegion { SourceAddr = source.Value, Gpa = gpa.Value, NrPages = size / IgvmLaunchInput.Page };
        vcpu.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitMemRegion, Flags = extend ? KvmTdxFlags.MeasureMemoryRegion : 0, Data = region });
    }
}

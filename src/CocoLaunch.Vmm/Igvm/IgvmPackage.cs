using CocoLaunch.Abi;
using CocoLaunch.Formats.Igvm;
using CocoLaunch.Kvm;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>
/// A finished spec launch as an IGVM file, laid out as coconut-svsm's igvmbuilder packages firmware: one platform,
/// the SNP policy, every page the launch loaded as a 4 KiB PAGE_DATA in the order it measured them, then (SNP) each
/// vCPU's VMSA as a VP_CONTEXT at KVM's VMSA GPA and the spec's ID block. Measuring the file replays the launch.
/// </summary>
public static class IgvmPackage
{
    private const int Page = (int)PageSize.Size4K;

    /// <param name="launched">A launch run to its measurement with <see cref="LaunchContext.Loaded"/> set.</param>
    /// <exception cref="LaunchException">The launch's measurement does not come from its pages alone, or the platform has no IGVM form.</exception>
    public static byte[] Build(LaunchContext launched)
    {
        var loaded = launched.Loaded ?? throw new InvalidOperationException("the launch did not record its pages (LaunchContext.Loaded)");
        if (loaded.NotReproducible is { } why)
        {
            throw new LaunchException($"an IGVM file cannot reproduce this launch's measurement: {why}");
        }

        var writer = new IgvmWriter();
        var spec = launched.Spec;
        switch (spec.Platform)
        {
            case KvmVmType.Snp:
                uint snp = writer.Platform(IgvmPlatformType.SevSnp);
                writer.GuestPolicy(spec.Snp!.Policy, snp);
                Pages(writer, snp, loaded, snpNormal: true);
                for (int i = 0; i < launched.Vcpus.Count; i++)
                {
                    var vmsa = launched.Vcpus[i].SevEsSaveArea ?? throw new LaunchException($"vCPU {i} has no VMSA: the launch did not reach LAUNCH_FINISH");
                    writer.VpContext(VmFd.InitialVmsaGpa, snp, (ushort)i, vmsa);
                }

                if (spec.Snp.IdBlock is { } block)
                {
                    writer.SnpIdBlock(snp, IgvmIdBlock.FromSnp(block, spec.Snp.IdAuth!));
                }

                break;
            case KvmVmType.Tdx:
                Pages(writer, writer.Platform(IgvmPlatformType.Tdx), loaded, snpNormal: false);
                break;
            default:
                throw new LaunchException($"platform {spec.Platform.Name()} has no IGVM form here (snp and tdx do)");
        }

        return writer.ToBytes();
    }

    /// <summary>
    /// Each range page by page. A page of zeros is stored as a zero page (no file data) except an SNP NORMAL one:
    /// QEMU's IGVM loader, like igvmmeasure --native-zero, gives a page without data the ZERO type, so a measured
    /// page keeps its bytes, and the spec's ZERO pages are the file's zero pages.
    /// </summary>
    private static void Pages(IgvmWriter writer, uint mask, LoadedPages loaded, bool snpNormal)
    {
        foreach (var range in loaded.Ranges)
        {
            var (flags, type) = range.Kind switch
            {
                LoadedPageKind.Unmeasured => (IgvmPageDataFlags.Unmeasured, IgvmPageDataType.Normal),
                LoadedPageKind.Secrets => (IgvmPageDataFlags.None, IgvmPageDataType.Secrets),
                LoadedPageKind.Cpuid => (IgvmPageDataFlags.None, IgvmPageDataType.CpuidData),
                _ => (IgvmPageDataFlags.None, IgvmPageDataType.Normal),
            };
            bool keepZeros = snpNormal && range.Kind == LoadedPageKind.Measured;
            for (ulong at = 0; at < range.Size; at += (ulong)Page)
            {
                var data = (ulong)range.Data.Length >= at + (ulong)Page ? range.Data.Slice((int)at, Page) : ReadOnlyMemory<byte>.Empty;
                bool zeros = !data.Span.ContainsAnyExcept((byte)0);
                writer.PageData(new Gpa(range.Gpa.Value + at), mask, zeros && !keepZeros ? ReadOnlyMemory<byte>.Empty : data, flags, type);
            }
        }
    }
}

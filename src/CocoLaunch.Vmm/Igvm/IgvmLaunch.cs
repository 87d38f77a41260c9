using CocoLaunch.Abi;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Igvm;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>Launches an IGVM file's directives for one platform on the emulated KVM, up to the launch measurement.</summary>
public static class IgvmLaunch
{
    /// <summary>QEMU's SNP default policy (SMT allowed, bit 17 set), for a file without a GUEST_POLICY; the policy is not in the digest.</summary>
    public const ulong DefaultSnpPolicy = 0x30000;

    /// <param name="vcpus">Null: one per VP context (SNP), or one (TDX).</param>
    /// <exception cref="LaunchException">Nothing for the platform, a directive the launch cannot express, or a refused ioctl.</exception>
    public static LaunchContext Run(string name, IgvmFile file, ReadOnlyMemory<byte> bytes, KvmVmType platform, int? vcpus, IgvmZeroPages zeroPages, bool recordContent = false)
    {
        var input = Input(name, file, bytes, platform, zeroPages);
        var plan = IgvmLaunchPlan.Of(input, platform, vcpus);
        var spec = SpecFor(name, platform, plan, input.GuestPolicy);
        ulong memory = plan.Layout.Aggregate(0UL, (sum, s) => sum + s.Size);
        var context = new LaunchContext(spec, FirmwareImage.FromBytes(name, []))
        {
            Igvm = input with { Plan = plan },
            HostMemoryLimit = (2 * memory) + (64UL << 20), // as for a spec: each page backed at most twice, plus the sources
        };
        context.Log.RecordContent = recordContent;
        return LaunchRecipe.Run(context, null);
    }

    /// <summary>The file's directives for the platform, which it must declare.</summary>
    /// <exception cref="LaunchException">The platform has no IGVM launch, or the file does not declare it.</exception>
    internal static IgvmLaunchInput Input(string name, IgvmFile file, ReadOnlyMemory<byte> bytes, KvmVmType platform, IgvmZeroPages zeroPages)
    {
        var type = platform switch
        {
            KvmVmType.Snp => IgvmPlatformType.SevSnp,
            KvmVmType.Tdx => IgvmPlatformType.Tdx,
            _ => throw new LaunchException($"platform {platform.Name()} has no IGVM launch measurement (sev-snp and tdx do)"),
        };
        var declared = file.Platforms.FirstOrDefault(p => p.Platform == type)
            ?? throw new LaunchException($"the file has no {IgvmNames.Of(type)} platform (it declares: {string.Join(", ", file.Platforms.Select(p => p.PlatformName))})");
        return new IgvmLaunchInput(name, file, bytes, declared, zeroPages);
    }

    /// <summary>The spec an IGVM launch runs under: QEMU's defaults, and memory exactly where the directives put pages.</summary>
    private static LaunchSpec SpecFor(string name, KvmVmType platform, IgvmLaunchPlan plan, ulong? policy)
    {
        var slots = plan.Layout.Select(s => new MemslotSpec(s.Gpa, s.Size, MemslotKind.Private)).ToList();
        var memory = new MemorySpec(slots.Aggregate(0UL, (sum, s) => sum + s.Size), slots, HostPageSize: PageSize.Size4K);
        var tdx = platform == KvmVmType.Tdx
            ? new TdxSpec(0x1000_0000, 0x602E7, new byte[48], new byte[48], new byte[48], TdxMeasurementProfile.Upstream)
            : null;
        var snp = platform == KvmVmType.Snp ? new SnpSpec(VmmType.Qemu, null, 1, policy ?? DefaultSnpPolicy, null, null, null) : null;
        return new LaunchSpec(name, platform, null, null, plan.Vcpus, memory, tdx, snp, null);
    }
}

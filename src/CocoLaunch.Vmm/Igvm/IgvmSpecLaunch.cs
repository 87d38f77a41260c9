using CocoLaunch.Abi;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Igvm;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>
/// A spec whose firmware is an IGVM file (<c>firmware: {igvm: FILE}</c>), launched as QEMU's igvm-cfg launches
/// one: the file gives the pages, their page types, the VMSAs and the ID block; the spec gives the platform, the
/// vCPU count, guest RAM, the SNP policy (which must equal the file's GUEST_POLICY, if it has one) and host data,
/// and the TD's attributes. Zero pages are SNP ZERO pages,
/// as QEMU's loader makes them, so the digest is <c>measure FILE --platform snp --profile igvm-native-zero</c>.
/// </summary>
public static class IgvmSpecLaunch
{
    /// <summary>The launch context, before any step runs: the file checked against the spec, and the memory both need.</summary>
    /// <exception cref="LaunchException">The file has nothing for the spec's platform or vCPU count, or memory that cannot hold it.</exception>
    public static LaunchContext Context(LaunchSpec spec, IgvmFile file, ReadOnlyMemory<byte> bytes, bool inPlaceConversion = false, ulong? hostMemoryLimit = null)
    {
        string name = spec.Firmware.Path;
        var input = IgvmLaunch.Input(name, file, bytes, spec.Platform, IgvmZeroPages.Native);
        if (spec.Snp is { Policy: var policy } && input.GuestPolicy is { } filePolicy && filePolicy != policy)
        {
            // QEMU's loader hands the file's GUEST_POLICY (and its ID block, with that policy) to the SNP launch;
            // a spec that says otherwise would launch a guest QEMU would not, so the two must agree.
            throw new LaunchException($"the file's IGVM_VHT_GUEST_POLICY is 0x{filePolicy:x} but the spec's SNP policy is 0x{policy:x} (snp.policy, or QEMU's default 0x{IgvmLaunch.DefaultSnpPolicy:x}): QEMU launches with the file's, so give snp.policy: 0x{filePolicy:x}");
        }

        var plan = IgvmLaunchPlan.Of(input, spec.Platform, spec.Vcpus);
        var layout = IgvmGuestLayout.Around(GuestMemoryLayout.Plan(spec, 0).Where(s => !s.Firmware).ToList(), plan.Layout);
        ulong memory = layout.Aggregate(0UL, (sum, s) => sum + s.Size);
        return new LaunchContext(spec, FirmwareImage.FromBytes(name, []))
        {
            Igvm = input with { Plan = plan with { Layout = layout }, TdHob = spec.Platform == KvmVmType.Tdx ? IgvmTdHob.Find(input) : null },
            InPlaceConversion = inPlaceConversion,
            HostMemoryLimit = hostMemoryLimit ?? (2 * memory) + (64UL << 20), // as for a firmware launch: each page backed at most twice, plus the sources
        };
    }
}

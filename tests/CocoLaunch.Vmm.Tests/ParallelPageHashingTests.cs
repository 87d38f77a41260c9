using CocoLaunch.Abi;
using CocoLaunch.Formats;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Spec;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// SNP pages hashed on two cores (the default) and on one thread give the public digest and the same
/// measurement log: parallel hashing changes when bytes are hashed, never which bytes or in what order.
/// </summary>
public sealed class ParallelPageHashingTests
{
    // public-check-values.tsv: sev-snp-measure --mode snp --ovmf OVMF_CODE.fd --vcpus 4 --vcpu-type EPYC-v4 --vmm-type QEMU --guest-features 0x1.
    private const string PublicSnp4Vcpus = "022a949083cab59e19c5ca3f5f7ddb9c991874f49f76f72ea3f8cee1aa411e70c0a92766729328069f00b3053fc8ea6f";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Snp_DebianOvmfCode4Vcpus_PublicDigestEitherWay(bool parallel)
    {
        var (context, reference) = LaunchBoth(Snp(RepoPaths.OvmfCodeFd, vcpus: 4), "snp-launch-finish", parallel);
        Assert.Equal(PublicSnp4Vcpus, Convert.ToHexStringLower(context.LaunchDigest!));
        Assert.Equal(reference, Lines(context));
    }

    /// <summary>The launch in the mode under test, and the log lines of a launch in the other mode.</summary>
    private static (LaunchContext Context, List<string> OtherModeLog) LaunchBoth(LaunchSpec spec, string lastStep, bool parallel)
    {
        var image = FirmwareImage.Load(spec.Firmware.Path);
        var ovmf = OvmfFirmware.Parse(image);
        var other = LaunchRecipe.Run(new LaunchContext(spec, image, ovmf, !parallel), lastStep);
        var context = LaunchRecipe.Run(new LaunchContext(spec, image, ovmf, parallel), lastStep);
        Assert.Equal(parallel, context.Kvm.ParallelPageHashing);
        return (context, Lines(other));
    }

    private static List<string> Lines(LaunchContext c) => c.Log.Operations.Select(o => o.ToLine()).ToList();

    private static LaunchSpec Snp(string firmware, int vcpus) =>
        new("parallel-pages", KvmVmType.Snp, new FirmwareSpec(firmware, null, new SpecLocation(firmware, 0, 0)), null, vcpus, new MemorySpec(2UL << 30, []),
            null, new SnpSpec(VmmType.Qemu, new VcpuIdentity(0x800F12, "EPYC-v4"), 0x1, 0x30000, null, null, null), null);
}

using CocoLaunch.Abi;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Spec.Tests;

/// <summary>A default-platform spec that boots its kernel without firmware, and the errors around it, each at its line and column.</summary>
public sealed class FirmwarelessSpecTests
{
    private static readonly string Kernel = RepoPaths.DebianKernel;

    private static LaunchSpec Parse(string yaml) =>
        LaunchSpecParser.Parse(yaml.Replace("{K}", Kernel, StringComparison.Ordinal).Replace("{FW}", RepoPaths.OvmfFd, StringComparison.Ordinal), "t.yaml", RepoPaths.Root);

    private static string Error(string yaml) => Assert.Throws<SpecException>(() => Parse(yaml)).Message;

    [Fact]
    public void ShippedLinuxSpec_HasNoFirmware_AndTheKvmIntelVcpuType()
    {
        var spec = LaunchSpecParser.Load(RepoPaths.LaunchSpec("linux.yaml"));
        Assert.True(spec.IsFirmwareless);
        Assert.Equal(KvmVmType.Default, spec.Platform);
        Assert.Equal("kvm-intel", spec.VcpuType);
        Assert.Equal(Kernel, spec.DirectBoot!.KernelPath);
        Assert.Equal(RepoPaths.TestInitramfs, spec.DirectBoot.InitrdPath);
        Assert.Equal("console=ttyS0", spec.DirectBoot.Cmdline);
        Assert.Equal(256UL << 20, spec.Memory.Size);

        // The verbs that measure or inspect firmware say why they cannot, instead of failing on a null.
        Assert.EndsWith("the spec boots its kernel without firmware (platform default, no 'firmware'); only 'launch' and 'validate' take it",
            Assert.Throws<SpecException>(() => spec.Firmware).Message);
    }

    [Fact]
    public void VcpuType_DefaultsToKvmIntel_AndQemu64CanBeChosen()
    {
        Assert.Equal("kvm-intel", Parse("platform: default\nkernel: {K}\nmemory: 128M\n").VcpuType);
        Assert.Equal("qemu64", Parse("platform: default\nkernel: {K}\nvcpu-type: qemu64\nmemory: 128M\n").VcpuType);
    }

    [Fact]
    public void Errors_NameTheKeyAndPlace()
    {
        Assert.Equal("t.yaml:3:12: vcpu-type: 'epyc' is not one of: kvm-intel, qemu64", Error("platform: default\nkernel: {K}\nvcpu-type: epyc\nmemory: 128M\n"));
        Assert.Equal("t.yaml:3:8: vcpus: 2; a kernel booted without firmware runs on one vCPU for now", Error("platform: default\nkernel: {K}\nvcpus: 2\nmemory: 128M\n"));
        Assert.StartsWith("t.yaml:3:1: vcpu-type: a top-level vCPU type is for platform default", Error("platform: tdx\nfirmware: {FW}\nvcpu-type: kvm-intel\nmemory: 128M\n"));
        Assert.Contains("firmware", Error("platform: tdx\nkernel: {K}\nmemory: 128M\n")); // only a default VM boots without firmware
        Assert.Contains("firmware", Error("platform: default\nmemory: 128M\n")); // nor without a kernel
    }
}

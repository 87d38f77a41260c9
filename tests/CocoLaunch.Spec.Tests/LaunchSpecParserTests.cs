using CocoLaunch.Abi;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Spec.Tests;

public sealed class LaunchSpecParserTests
{
    private static LaunchSpec Parse(string yaml) =>
        LaunchSpecParser.Parse(yaml.Replace("{FW}", RepoPaths.OvmfCodeFd, StringComparison.Ordinal), "t.yaml", RepoPaths.Root);

    [Fact]
    public void Load_TdxExample_HasUpstreamDefaults()
    {
        var spec = LaunchSpecParser.Load(RepoPaths.LaunchSpec("tdx.yaml"));
        Assert.Equal(KvmVmType.Tdx, spec.Platform);
        Assert.Equal(RepoPaths.OvmfFd, spec.Firmware.Path);
        Assert.Null(spec.Firmware.VarsPath);
        Assert.Equal(2UL << 30, spec.Memory.Size);
        Assert.Empty(spec.Memory.Slots);
        var tdx = spec.Tdx!;
        Assert.Equal((0x10000000UL, 0x602E7UL), (tdx.Attributes, tdx.Xfam));
        Assert.Equal(TdxMeasurementProfile.Upstream, tdx.Measurement);
        Assert.Equal(new byte[48], tdx.MrConfigId);
    }

    [Fact]
    public void Load_TdxSplitExample_ResolvesVarsRelativeToSpec()
    {
        var spec = LaunchSpecParser.Load(RepoPaths.LaunchSpec("tdx-split.yaml"));
        Assert.Equal(RepoPaths.OvmfCodeFd, spec.Firmware.Path);
        Assert.Equal(RepoPaths.OvmfVarsFd, spec.Firmware.VarsPath);
        Assert.Equal(
            [new MemslotSpec(Gpa.Zero, 2UL << 30, MemslotKind.Private), new MemslotSpec(Gpa.FourGiB, 2UL << 30, MemslotKind.Private)],
            spec.Memory.Slots);
        Assert.Equal(2, spec.Vcpus);
    }

    [Fact]
    public void Load_SnpDirectBoot_ReadsKernelInitrdAndCmdline()
    {
        var spec = LaunchSpecParser.Load(RepoPaths.LaunchSpec("snp-direct-boot.yaml"));
        var boot = spec.DirectBoot!;
        Assert.Equal(RepoPaths.Synthetic("kernel_1MiB.bin"), boot.KernelPath);
        Assert.Equal(RepoPaths.Synthetic("initrd_320KiB.bin"), boot.InitrdPath);
        Assert.Equal("console=ttyS0 loglevel=7", boot.Cmdline);
        var snp = spec.Snp!;
        Assert.Equal(new VcpuIdentity(0x800F12, "EPYC-v4"), snp.Vcpu);
        Assert.Equal((VmmType.Qemu, 0x1UL, 0x30000UL), (snp.VmmType, snp.GuestFeatures, snp.Policy));
        Assert.Null(snp.IdBlock);
    }

    [Theory]
    // snp-launch-digest.md §5.3: family/model/stepping → signature.
    [InlineData(23, 1, 2, 0x800F12u)]
    [InlineData(23, 49, 0, 0x830F10u)]
    [InlineData(25, 1, 1, 0xA00F11u)]
    [InlineData(25, 17, 0, 0xA10F10u)]
    [InlineData(26, 0, 0, 0xB00F00u)]
    [InlineData(6, 0x55, 4, 0x50654u)]
    public void Parse_FamilyModelStepping_GivesCpuidSignature(int family, int model, int stepping, uint signature)
    {
        var spec = Parse($"platform: snp\nfirmware: {{FW}}\nmemory: 1G\nsnp: {{ vcpu-family: {family}, vcpu-model: {model}, vcpu-stepping: {stepping} }}\n");
        Assert.Equal(new VcpuIdentity(signature, null), spec.Snp!.Vcpu);
    }

    [Theory]
    [InlineData("4096", 4096UL)]
    [InlineData("0x80000000", 0x80000000UL)]
    [InlineData("2G", 2UL << 30)]
    [InlineData("2GiB", 2UL << 30)]
    [InlineData("512M", 512UL << 20)]
    [InlineData("1 TiB", 1UL << 40)]
    [InlineData("64K", 64UL << 10)]
    [InlineData("1_048_576", 1UL << 20)]
    public void Parse_MemorySize_AcceptsBinaryUnits(string text, ulong bytes)
    {
        Assert.Equal(bytes, Parse($"platform: sev\nfirmware: {{FW}}\nmemory: {text}\n").Memory.Size);
    }

    [Fact]
    public void Parse_Blobs_AcceptHexBase64AndFile()
    {
        using var dir = new TempDir();
        byte[] owner = Enumerable.Range(0, 48).Select(i => (byte)i).ToArray();
        string file = dir.Write("owner.bin", owner);
        string hex = Convert.ToHexString(owner);
        string b64 = Convert.ToBase64String(owner);
        var spec = Parse($"platform: tdx\nfirmware: {{FW}}\nmemory: 1G\ntdx:\n  mrconfigid: 0x{hex}\n  mrowner: {b64}\n  mrownerconfig: {{ file: {file} }}\n");
        Assert.Equal(owner, spec.Tdx!.MrConfigId);
        Assert.Equal(owner, spec.Tdx.MrOwner);
        Assert.Equal(owner, spec.Tdx.MrOwnerConfig);
    }

    [Fact]
    public void Parse_SnpIdBlockAndHostData_KeepExactBytes()
    {
        byte[] idBlock = Enumerable.Range(0, 96).Select(i => (byte)(i * 3)).ToArray();
        byte[] hostData = Enumerable.Range(0, 32).Select(i => (byte)(255 - i)).ToArray();
        var spec = Parse($"platform: snp\nfirmware: {{FW}}\nmemory: 1G\nsnp:\n  vcpu-sig: 0xa00f11\n  id-block: {Convert.ToBase64String(idBlock)}\n  host-data: {Convert.ToHexStringLower(hostData)}\n  vmm-type: ec2\n");
        Assert.Equal(idBlock, spec.Snp!.IdBlock);
        Assert.Equal(hostData, spec.Snp.HostData);
        Assert.Equal(VmmType.Ec2, spec.Snp.VmmType);
        Assert.Equal(new VcpuIdentity(0xA00F11, null), spec.Snp.Vcpu);
    }

    [Fact]
    public void Parse_Ec2WithoutVcpuType_IsAccepted()
    {
        // snp-launch-digest.md §5.2: ec2 and gce VMSAs do not depend on the vCPU type.
        var spec = Parse("platform: snp\nfirmware: {FW}\nmemory: 1G\nsnp:\n  vmm-type: gce\n");
        Assert.Null(spec.Snp!.Vcpu);
        Assert.Equal(VmmType.Gce, spec.Snp.VmmType);
    }

    [Fact]
    public void Parse_TdxMeasurementProfile_ReadsEveryAxis()
    {
        var spec = Parse("platform: tdx\nfirmware: {FW}\nmemory: 1G\ntdx:\n  measurement: { order: two-pass, page-aug: skip, short-section-data: zero-fill }\n");
        Assert.Equal(new TdxMeasurementProfile(TdxPageOrder.TwoPass, TdxPageAug.Skip, TdxShortSectionData.ZeroFill), spec.Tdx!.Measurement);
    }

    [Fact]
    public void Parse_SevPlatformWithoutSection_UsesQemuDefaults()
    {
        var spec = Parse("platform: sev\nfirmware: {FW}\nmemory: 1G\n");
        Assert.Equal(new SevSpec(VmmType.Qemu, null, 0x1), spec.Sev);
        Assert.Null(spec.Snp);
        Assert.Null(spec.Tdx);
        Assert.Equal(1, spec.Vcpus);
    }

    [Fact]
    public void Parse_SevEsWithoutPolicy_DefaultsToNodbgPlusEs()
    {
        var spec = Parse("platform: sev-es\nfirmware: {FW}\nmemory: 1G\nsev: { vcpu-type: EPYC-Rome }\n");
        Assert.Equal(new SevSpec(VmmType.Qemu, new VcpuIdentity(0x830F10, "EPYC-Rome"), 0x5), spec.Sev);
    }

    [Fact]
    public void Parse_BlobFileBehindSymlink_MeasuresTheTarget()
    {
        using var dir = new TempDir();
        byte[] data = new byte[32];
        data[31] = 7;
        string target = dir.Write("host-data.bin", data);
        string link = Path.Combine(dir.Path, "link.bin");
        File.CreateSymbolicLink(link, target);
        var spec = Parse($"platform: snp\nfirmware: {{FW}}\nmemory: 1G\nsnp: {{ vcpu-type: EPYC, host-data: {{ file: {link} }} }}\n");
        Assert.Equal(data, spec.Snp!.HostData);
    }

    [Fact]
    public void Parse_GuestMemfdPages_DefaultIsUpstream4K()
    {
        Assert.Equal(4096UL, Parse("platform: snp\nfirmware: {FW}\nmemory: 1G\nsnp: { vcpu-type: EPYC }\n").Memory.GuestMemfdPageSize);
        Assert.Equal(2UL << 20, Parse("platform: snp\nfirmware: {FW}\nmemory: { size: 1G, guest-memfd-pages: 2M }\nsnp: { vcpu-type: EPYC }\n").Memory.GuestMemfdPageSize);
    }

    [Fact]
    public void Parse_SlotsOnly_SizeIsTheirSum()
    {
        var spec = Parse("platform: sw-protected\nfirmware: {FW}\nmemory:\n  slots:\n    - { gpa: 0x0, size: 1G, kind: private }\n    - { gpa: 0x40000000, size: 512M, kind: shared }\n");
        Assert.Equal((1UL << 30) + (512UL << 20), spec.Memory.Size);
        Assert.Equal(MemslotKind.Shared, spec.Memory.Slots[1].Kind);
    }

    [Theory]
    [InlineData(2UL << 30, "2 GiB")]
    [InlineData(1536UL << 20, "1536 MiB")]
    [InlineData(4096UL, "4 KiB")]
    [InlineData(4097UL, "0x1001 bytes")]
    public void Format_Size_IsExact(ulong bytes, string text) => Assert.Equal(text, SizeParser.Format(bytes));
}

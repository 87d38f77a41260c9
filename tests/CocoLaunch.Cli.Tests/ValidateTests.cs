using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>`validate` on the shipped launch specs, and the firmware checks it makes per platform.</summary>
public sealed class ValidateTests
{
    [Theory]
    [InlineData("tdx.yaml", "platform tdx, firmware OVMF.fd (2097152 bytes, 6 TDX sections), 1 vCPU, memory 2 GiB")]
    [InlineData("tdx-split.yaml", "platform tdx, firmware OVMF_VARS.fd+OVMF_CODE.fd (2097152 bytes, 6 TDX sections), 2 vCPUs, memory 4 GiB in 2 slots")]
    [InlineData("tdx-two-pass.yaml", "platform tdx, firmware OVMF.fd (2097152 bytes, 6 TDX sections), 1 vCPU, memory 2 GiB")]
    [InlineData("default-thp.yaml", "platform default, firmware OVMF.fd (2097152 bytes), 1 vCPU, memory 1 GiB")]
    [InlineData("snp.yaml", "platform snp, firmware OVMF_CODE.fd (1966080 bytes, 5 SEV sections), 1 vCPU, memory 2 GiB")]
    [InlineData("snp-direct-boot.yaml", "platform snp, firmware amdsev-like.fd (2097152 bytes, 5 SEV sections), 1 vCPU, memory 1 GiB, direct kernel boot")]
    [InlineData("sev-es.yaml", "platform sev-es, firmware OVMF_CODE.fd (1966080 bytes, 5 SEV sections), 2 vCPUs, memory 2 GiB")]
    [InlineData("sev.yaml", "platform sev, firmware OVMF_CODE.fd (1966080 bytes, 5 SEV sections), 1 vCPU, memory 1 GiB")]
    [InlineData("sw-protected.yaml", "platform sw-protected, firmware OVMF.fd (2097152 bytes), 1 vCPU, memory 2 GiB in 2 slots")]
    [InlineData("default.yaml", "platform default, firmware OVMF.fd (2097152 bytes), 1 vCPU, memory 4 GiB in 2 slots")]
    public void Validate_ShippedSpec_IsOk(string name, string summary)
    {
        string spec = RepoPaths.LaunchSpec(name);
        var result = CliRunner.Run("validate", spec);
        Assert.Equal((0, string.Empty), (result.Exit, result.Stderr));
        Assert.Equal($"{spec}: ok: {summary}", result.Stdout.TrimEnd());
    }

    [Fact]
    public void Validate_TdxOnCodeOnlyFirmware_PointsAtTheSpecKeyAndSuggestsVars()
    {
        using var dir = new TempDir();
        string spec = dir.Write("s.yaml", $"platform: tdx\nfirmware: {RepoPaths.OvmfCodeFd}\nmemory: 2G\n");
        var result = CliRunner.Run("validate", spec);
        Assert.Equal(2, result.Exit);
        Assert.Equal(
            $"cocolaunch: {spec}:2:11: firmware: {RepoPaths.OvmfCodeFd}: offset 0x1df7d0: TDX section #0 (BFV) data [0x20000,0x200000) lies beyond the end of the file (size 0x1e0000); "
            + "the metadata was written for a 0x200000-byte VARS+CODE image, so this looks like a CODE-only file such as OVMF_CODE.fd: give the 0x20000-byte vars file too (firmware.vars in a launch spec, --vars for inspect)",
            result.ErrorLine);
    }

    [Fact]
    public void Validate_SnpKernelWithoutKernelHashesSection_IsRejected()
    {
        // shared/vectors/synthetic/README.md: ovmfx64-like.fd cannot express a measured direct boot.
        using var dir = new TempDir();
        string fw = RepoPaths.Synthetic("ovmfx64-like.fd");
        string spec = dir.Write("s.yaml", $"platform: snp\nfirmware: {fw}\nkernel: {RepoPaths.Synthetic("kernel_1MiB.bin")}\nmemory: 1G\nsnp: {{ vcpu-type: EPYC-v4 }}\n");
        var result = CliRunner.Run("validate", spec);
        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {spec}:2:11: firmware: {fw}: a measured direct boot (kernel) needs an SNP_KERNEL_HASHES section in the SEV metadata, and this firmware has none (snp.kernel-hashes: off boots the kernel unmeasured, as QEMU's kernel-hashes=off does)", result.ErrorLine);
    }

    [Fact]
    public void Validate_SnpKernelWithKernelHashesOff_IsAccepted_AndItsDigestLeavesTheKernelOut()
    {
        // With kernel-hashes off the kernel is served unmeasured, so the launch digest is the firmware's alone: the
        // check value for ovmfx64-like.fd with no --kernel (shared/vectors/public-check-values.tsv; sev-snp-measure 0.0.13).
        using var dir = new TempDir();
        string fw = RepoPaths.Synthetic("ovmfx64-like.fd");
        string spec = dir.Write("s.yaml", $"platform: snp\nfirmware: {fw}\nkernel: {RepoPaths.Synthetic("kernel_1MiB.bin")}\nmemory: 1G\nsnp: {{ vcpu-type: EPYC-v4, kernel-hashes: off }}\n");
        var result = CliRunner.Run("validate", spec);
        Assert.Equal(0, result.Exit);
        Assert.Contains(", direct kernel boot (unmeasured: kernel-hashes off)", result.Stdout);
        var measured = CliRunner.Run("measure", spec);
        Assert.Equal(0, measured.Exit);
        Assert.Equal("a87612d354aa6c984169636fafefb4613c5a1cdf23a98976939535e17c438924ba17eb195621bd747d7b34476fc5edb5", measured.Stdout.Trim());
    }

    [Fact]
    public void Validate_SevEsKernelWithoutHashTable_IsRejected()
    {
        using var dir = new TempDir();
        string fw = RepoPaths.Synthetic("caa.fd");
        string spec = dir.Write("s.yaml", $"platform: sev-es\nfirmware: {fw}\nkernel: {RepoPaths.Synthetic("kernel_1MiB.bin")}\nmemory: 1G\nsev: {{ vcpu-type: EPYC-v4 }}\n");
        var result = CliRunner.Run("validate", spec);
        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {spec}:2:11: firmware: {fw}: a measured direct boot (kernel) needs the SEV hash table entry (7255371f-3a3b-4b04-927b-1da6efa8d454) with a non-zero base, and this firmware has none", result.ErrorLine);
    }

    [Fact]
    public void Validate_TdxOnFirmwareWithoutTdvf_IsRejected()
    {
        using var dir = new TempDir();
        string fw = RepoPaths.Synthetic("amdsev-like.fd");
        string spec = dir.Write("s.yaml", $"platform: tdx\nfirmware: {fw}\nmemory: 2G\n");
        var result = CliRunner.Run("validate", spec);
        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {spec}:2:11: firmware: {fw}: no TDX metadata (the OVMF GUID table has no e47a6535-984a-4798-865e-4685a7bf8ec2 entry); a TDX launch needs a TDVF build", result.ErrorLine);
    }

    [Fact]
    public void Validate_SnpMultiVcpuWithZeroApEip_IsRejected()
    {
        using var dir = new TempDir();
        string fw = dir.Write("fw.fd", new OvmfImageBuilder().Asev(0x400, (0x80_0000, 0x1000, 1)).Entry(OvmfImageBuilder.ResetBlock, 0u).Build());
        string spec = dir.Write("s.yaml", $"platform: snp\nfirmware: {fw}\nvcpus: 4\nmemory: 1G\nsnp: {{ vcpu-type: EPYC-v4 }}\n");
        var result = CliRunner.Run("validate", spec);
        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {spec}:2:11: firmware: {fw}: the SEV-ES reset block's AP entry point is 0, so the 3 application processor(s) cannot start", result.ErrorLine);
    }

    [Fact]
    public void Validate_TdxWithTdShimSectionType_IsRejected()
    {
        using var dir = new TempDir();
        var sections = OvmfImageBuilder.MinimalTdvf(0x10000);
        sections[1] = sections[1] with { Type = 4 };
        string fw = dir.Write("fw.fd", new OvmfImageBuilder().Tdvf(0x800, sections).Build());
        string spec = dir.Write("s.yaml", $"platform: tdx\nfirmware: {fw}\nmemory: 2G\n");
        var result = CliRunner.Run("validate", spec);
        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {spec}:2:11: firmware: {fw}: offset 0xf830: TDX section #1 (PermMem) cannot be loaded: the launch takes BFV, CFV, TD_HOB and TempMem (as QEMU), and Payload and PayloadParam with a kernel (as Cloud Hypervisor)", result.ErrorLine);
    }

    [Fact]
    public void Validate_TdxPayloadSectionWithoutAKernel_IsRejected()
    {
        using var dir = new TempDir();
        string fw = Path.Combine(RepoPaths.Root, "samples", "linux-tdx", "bin", "linux-tdx.fd");
        string spec = dir.Write("s.yaml", $"platform: tdx\nfirmware: {fw}\nmemory: 256M\n");
        var result = CliRunner.Run("validate", spec);
        Assert.Equal(2, result.Exit);
        Assert.EndsWith("(PayloadParam) carries a kernel: the spec needs kernel (and initrd, cmdline)", result.ErrorLine);
    }

    [Fact]
    public void Validate_EmptyFirmwareFile_NamesSpecLocationAndFile()
    {
        using var dir = new TempDir();
        string fw = dir.Write("empty.fd", []);
        string spec = dir.Write("s.yaml", "platform: default\nfirmware:\n  path: empty.fd\nmemory: 1G\n");
        var result = CliRunner.Run("validate", spec);
        Assert.Equal((2, $"cocolaunch: {spec}:3:9: firmware: {fw}: firmware file is empty (0 bytes)"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Validate_SlotOverTheFirmware_IsRejected()
    {
        using var dir = new TempDir();
        string spec = dir.Write("s.yaml", $"platform: default\nfirmware: {RepoPaths.OvmfFd}\nmemory:\n  slots:\n    - {{ gpa: 0x0, size: 4G, kind: shared }}\n");
        var result = CliRunner.Run("validate", spec);
        Assert.Equal((2, $"cocolaunch: {spec}:4:3: memory: memory slot [0x0,0x100000000) overlaps the firmware at [0xffe00000,0x100000000)"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Validate_MissingSpecFile_ExitsTwo()
    {
        var result = CliRunner.Run("validate", "/nonexistent/spec.yaml");
        Assert.Equal((2, "cocolaunch: /nonexistent/spec.yaml: no such launch spec file"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Validate_SpecIsADirectory_ExitsTwo()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("validate", dir.Path);
        Assert.Equal((2, $"cocolaunch: {dir.Path}: is a directory, not a launch spec file"), (result.Exit, result.ErrorLine));
    }
}

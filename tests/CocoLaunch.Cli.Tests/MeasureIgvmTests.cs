using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Tests.Shared;
using B = CocoLaunch.Tests.Shared.IgvmFileBuilder;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// <c>measure FILE.igvm --platform snp|tdx</c>. No IGVM file made outside this project exists offline, so the files
/// are built here, page by page as igvmbuilder lays out firmware, from firmware whose digests are pinned to outside
/// oracles (sev-snp-measure for the SNP sample, the public Debian OVMF MRTD); the other expected values are
/// computed in the test from snp-launch-digest.md and tdx-mrtd.md.
/// </summary>
public sealed class MeasureIgvmTests
{
    private const uint Snp = 1, Tdx = 2;
    private const ulong VmsaGpa = 0xFFFF_FFFF_F000;

    /// <summary>The BSP's VMSA as sev-snp-measure builds it for QEMU, EPYC-v4 (signature 0x800f12), SEV_FEATURES 0x1.</summary>
    private static readonly byte[] SampleVmsa = Vmsa.Build(Vmsa.BspResetEip, VmsaProfile.Qemu, 0x800f12, 1);

    private static byte[] Page(byte fill) => Enumerable.Repeat(fill, 4096).ToArray();

    private static string Write(TempDir dir, byte[] file) => dir.Write("guest.igvm", file);

    /// <summary>
    /// samples/snp/bin/snp.fd as an IGVM file: its 16 pages as NORMAL page data below 4 GiB, then its SEV metadata
    /// sections in table order (SNP_SEC_MEM as 8 zero pages, SECRETS, CPUID), then the BSP's VMSA at KVM's GPA.
    /// </summary>
    private static B SnpSample()
    {
        byte[] image = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "samples", "snp", "bin", "snp.fd"));
        var b = new B().Platform(Snp, B.SevSnp).Policy(0x30000, Snp);
        for (int i = 0; i < 16; i++)
        {
            b.Page(0xFFFF_0000UL + ((ulong)i * 4096), Snp, image[(i * 4096)..((i + 1) * 4096)]);
        }

        for (int i = 0; i < 8; i++)
        {
            b.Page(0x80_0000UL + ((ulong)i * 4096), Snp);
        }

        return b.Page(0x80_8000, Snp, dataType: 1).Page(0x80_9000, Snp, dataType: 2).Vp(VmsaGpa, Snp, SampleVmsa);
    }

    /// <summary>The same pages through the test's own PAGE_INFO chain; <paramref name="zeroType"/> is how SNP_SEC_MEM is measured.</summary>
    private static string SnpSampleChain(byte zeroType)
    {
        byte[] image = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "samples", "snp", "bin", "snp.fd"));
        var chain = new ReferencePageInfo();
        for (int i = 0; i < 16; i++)
        {
            chain.Add(ReferencePageInfo.Normal, 0xFFFF_0000UL + ((ulong)i * 4096), image.AsSpan(i * 4096, 4096));
        }

        for (int i = 0; i < 8; i++)
        {
            chain.Add(zeroType, 0x80_0000UL + ((ulong)i * 4096));
        }

        return chain.Add(ReferencePageInfo.Secrets, 0x80_8000).Add(ReferencePageInfo.Cpuid, 0x80_9000).Add(ReferencePageInfo.Vmsa, VmsaGpa, SampleVmsa).Hex;
    }

    [Fact]
    public void SnpSample_NativeZero_EqualsSevSnpMeasure()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Write(dir, SnpSample().Build()), "--platform", "snp", "--profile", "igvm-native-zero");
        Assert.Equal((0, SnpSampleTests.OracleDigest, string.Empty), (result.Exit, result.Stdout.Trim(), result.Stderr));
    }

    [Fact]
    public void ReferenceChain_WithZeroPages_ReproducesSevSnpMeasure() => Assert.Equal(SnpSampleTests.OracleDigest, SnpSampleChain(ReferencePageInfo.Zero));

    [Fact]
    public void SnpSample_Default_MeasuresZeroPagesAsNormalZeros_LikeIgvmmeasure()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Write(dir, SnpSample().Build()), "--platform", "snp");
        Assert.Equal((0, SnpSampleChain(ReferencePageInfo.Normal)), (result.Exit, result.Stdout.Trim()));
        Assert.NotEqual(SnpSampleTests.OracleDigest, result.Stdout.Trim());
    }

    [Fact]
    public void DebianOvmf_AsTdxPages_EqualsThePublicMrtd()
    {
        var b = new B().Platform(Tdx, B.Tdx);
        foreach (var s in MeasureTests.DebianSections())
        {
            for (int p = 0; p < s.Pages; p++)
            {
                ulong gpa = s.Gpa + ((ulong)p * 4096);
                byte[]? data = s.Content?[(p * 4096)..((p + 1) * 4096)];
                b.Page(gpa, Tdx, data, flags: s.Extend ? 0 : B.FlagUnmeasured);
            }
        }

        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Write(dir, b.Build()), "--platform", "tdx");
        Assert.Equal((0, MeasureTests.PublicMrtd, string.Empty), (result.Exit, result.Stdout.Trim(), result.Stderr));
    }

    [Fact]
    public void Snp_EachPageKind_HasItsPageType_SharedPagesAreSkipped_ParameterAreasAreUnmeasured()
    {
        byte[] vmsa = Page(0x5A);
        var file = new B().Platform(Snp, B.SevSnp)
            .Area(0x2000, 0)
            .Page(0x1000, Snp, Page(0x11))
            .Page(0x2000, Snp, Page(0x22), flags: B.FlagUnmeasured)
            .Page(0x3000, Snp, Page(0x33), flags: B.FlagShared)
            .Page(0x4000, Snp) // zero page
            .Page(0x5000, Snp, dataType: 1)
            .Page(0x6000, Snp, dataType: 3)
            .Insert(0x10000, Snp, 0)
            .Vp(VmsaGpa, Snp, vmsa)
            .Build();
        string expected = new ReferencePageInfo()
            .Add(ReferencePageInfo.Normal, 0x1000, Page(0x11))
            .Add(ReferencePageInfo.Unmeasured, 0x2000)
            .Add(ReferencePageInfo.Normal, 0x4000, new byte[4096])
            .Add(ReferencePageInfo.Secrets, 0x5000)
            .Add(ReferencePageInfo.Cpuid, 0x6000)
            .Add(ReferencePageInfo.Unmeasured, 0x10000)
            .Add(ReferencePageInfo.Unmeasured, 0x11000) // 0x2000 bytes: two pages
            .Add(ReferencePageInfo.Vmsa, VmsaGpa, vmsa).Hex;

        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Write(dir, file), "--platform", "snp");
        Assert.True(result.Exit == 0, result.Stderr);
        Assert.Equal(expected, result.Stdout.Trim());
    }

    [Fact]
    public void Snp_TwoMegabytePage_IsFiveHundredTwelveNormalPages()
    {
        byte[] big = new byte[2 << 20];
        big.AsSpan(4096).Fill(7);
        var file = new B().Platform(Snp, B.SevSnp).Page(0x20_0000, Snp, big, flags: B.Flag2Mb).Vp(VmsaGpa, Snp, SampleVmsa).Build();
        var chain = new ReferencePageInfo();
        for (int i = 0; i < 512; i++)
        {
            chain.Add(ReferencePageInfo.Normal, 0x20_0000UL + ((ulong)i * 4096), big.AsSpan(i * 4096, 4096));
        }

        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Write(dir, file), "--platform", "snp");
        Assert.Equal((0, chain.Add(ReferencePageInfo.Vmsa, VmsaGpa, SampleVmsa).Hex), (result.Exit, result.Stdout.Trim()));
    }

    [Fact]
    public void Tdx_MeasuredUnmeasuredZeroAndParameterPages_FollowTheReferenceMrtd()
    {
        var file = new B().Platform(Tdx, B.Tdx)
            .Area(0x1000, 3)
            .Page(0x1000, Tdx, Page(0x11))
            .Page(0x2000, Tdx, Page(0x22), flags: B.FlagUnmeasured)
            .Page(0x3000, Tdx, Page(0x33), flags: B.FlagShared)
            .Page(0x4000, Tdx)
            .Insert(0x8000, Tdx, 3)
            .Build();
        string expected = ReferenceMrtd.Compute(
        [
            new(0x1000, 1, true, Page(0x11)),
            new(0x2000, 1, false, null),
            new(0x4000, 1, true, null),
            new(0x8000, 1, false, null),
        ]);

        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Write(dir, file), "--platform", "tdx");
        Assert.Equal((0, expected), (result.Exit, result.Stdout.Trim()));
    }

    [Fact]
    public void OnlyTheChosenPlatformsDirectivesCount()
    {
        var both = new B().Platform(Snp, B.SevSnp).Platform(Tdx, B.Tdx)
            .Page(0x1000, Snp | Tdx, Page(0x11))
            .Page(0x2000, Tdx, Page(0x22))
            .Vp(VmsaGpa, Snp, SampleVmsa)
            .Build();
        using var dir = new TempDir();
        string path = Write(dir, both);
        Assert.Equal(
            new ReferencePageInfo().Add(ReferencePageInfo.Normal, 0x1000, Page(0x11)).Add(ReferencePageInfo.Vmsa, VmsaGpa, SampleVmsa).Hex,
            CliRunner.Run("measure", path, "--platform", "snp").Stdout.Trim());
        Assert.Equal(
            ReferenceMrtd.Compute([new(0x1000, 1, true, Page(0x11)), new(0x2000, 1, true, Page(0x22))]),
            CliRunner.Run("measure", path, "--platform", "tdx").Stdout.Trim());
    }

    [Fact]
    public void Explain_NamesTheDirectiveOfEveryOperation()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Write(dir, SnpSample().Build()), "--platform", "snp", "--explain");
        string[] lines = result.Stdout.TrimEnd().Split('\n');
        Assert.Equal(0, result.Exit);
        Assert.Equal(28, lines.Length); // 27 operations and the digest
        Assert.EndsWith("UPDATE.NORMAL gpa=0x0000ffff0000 bytes=4208 IGVM #2 PAGE_DATA", lines[0], StringComparison.Ordinal);
        Assert.EndsWith("UPDATE.NORMAL gpa=0x000000800000 bytes=4208 IGVM #18 PAGE_DATA", lines[16], StringComparison.Ordinal);
        Assert.EndsWith("IGVM #28 VP_CONTEXT", lines[26], StringComparison.Ordinal);
        Assert.Contains("UPDATE.VMSA", lines[26], StringComparison.Ordinal);
    }

    [Fact]
    public void Json_CarriesTheDigestAndTheLaunchShape()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Write(dir, SnpSample().Build()), "--platform", "snp", "--profile", "igvm-native-zero", "--output-format", "json");
        using var doc = JsonDocument.Parse(result.Stdout);
        Assert.Equal(SnpSampleTests.OracleDigest, doc.RootElement.GetProperty("measurement").GetString());
        Assert.Equal(1, doc.RootElement.GetProperty("vcpus").GetInt32());
        Assert.Equal("zero", doc.RootElement.GetProperty("zeroPages").GetString());
        Assert.Equal(27, doc.RootElement.GetProperty("measuredOperations").GetInt32());
    }

    /// <summary>
    /// IGVM_VHS_SNP_ID_BLOCK (696 bytes) for <paramref name="ld"/> and policy 0x30000, signed here with a fresh P-384
    /// key: the 96-byte ID block laid out from snp-launch-digest.md §14, R and S and Qx and Qy little-endian in 72 bytes.
    /// </summary>
    private static byte[] IdBlockHeader(byte[] ld)
    {
        var block = new byte[96];
        ld.CopyTo(block, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(0x50), 1); // version
        BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(0x58), 0x30000);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        byte[] rs = key.SignData(block, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var q = key.ExportParameters(false).Q;
        var v = new byte[696];
        BinaryPrimitives.WriteUInt32LittleEndian(v, Snp);
        ld.CopyTo(v, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(v.AsSpan(88), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(v.AsSpan(96), 1); // ECDSA P-384 with SHA-384
        LittleEndian(rs.AsSpan(0, 48), v.AsSpan(104, 72));
        LittleEndian(rs.AsSpan(48, 48), v.AsSpan(176, 72));
        BinaryPrimitives.WriteUInt32LittleEndian(v.AsSpan(248), 2); // curve P-384
        LittleEndian(q.X, v.AsSpan(256, 72)); // after the curve and 4 reserved bytes
        LittleEndian(q.Y, v.AsSpan(328, 72));
        return v;
    }

    private static void LittleEndian(ReadOnlySpan<byte> bigEndian, Span<byte> into)
    {
        for (int i = 0; i < bigEndian.Length; i++)
        {
            into[i] = bigEndian[bigEndian.Length - 1 - i];
        }
    }

    [Fact]
    public void IdBlock_ForTheDigest_IsAcceptedAtLaunchFinish()
    {
        byte[] file = SnpSample().Header(B.SnpIdBlock, IdBlockHeader(Convert.FromHexString(SnpSampleTests.OracleDigest))).Build();
        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Write(dir, file), "--platform", "snp", "--profile", "igvm-native-zero");
        Assert.True(result.Exit == 0, result.Stderr);
        Assert.Equal((SnpSampleTests.OracleDigest, string.Empty), (result.Stdout.Trim(), result.Stderr));
    }

    [Fact]
    public void IdBlock_ForAnotherDigest_IsExit2_NamingTheHeader()
    {
        // Zero pages measured as NORMAL give another digest than the one the block expects.
        byte[] file = SnpSample().Header(B.SnpIdBlock, IdBlockHeader(Convert.FromHexString(SnpSampleTests.OracleDigest))).Build();
        using var dir = new TempDir();
        var result = CliRunner.Run("measure", Write(dir, file), "--platform", "snp");
        Assert.Equal(2, result.Exit);
        Assert.Contains("igvm: header #29 (IGVM_VHT_SNP_ID_BLOCK) at offset 0x", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("the firmware refused it at LAUNCH_FINISH", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(SnpSampleChain(ReferencePageInfo.Normal), result.Stderr, StringComparison.Ordinal);
    }

    private static readonly Dictionary<string, (Func<B> Build, string[] Options, string Message)> RefusedCases = new()
    {
        ["no-platform"] = (() => new B().Platform(Snp, B.SevSnp).Page(0x1000, Snp, Page(1)), ["--platform", "tdx"], "igvm: the file has no tdx platform (it declares: sev-snp)"),
        ["no-directives"] = (() => new B().Platform(Snp, B.SevSnp).Platform(Tdx, B.Tdx).Page(0x1000, Snp, Page(1)), ["--platform", "tdx"], "no page or VP context directive for tdx (mask 0x2): nothing to load or measure"),
        ["vp-on-tdx"] = (() => new B().Platform(Tdx, B.Tdx).Page(0x1000, Tdx, Page(1)).Vp(VmsaGpa, Tdx, Page(2)), ["--platform", "tdx"], "header #2 (IGVM_VHT_VP_CONTEXT) at offset 0x"),
        ["vmsa-gpa"] = (() => new B().Platform(Snp, B.SevSnp).Page(0x1000, Snp, Page(1)).Vp(0x5000, Snp, Page(2)), ["--platform", "snp"], "header #2 (IGVM_VHT_VP_CONTEXT) at offset 0x"),
        ["page-after-vmsa"] = (() => new B().Platform(Snp, B.SevSnp).Vp(VmsaGpa, Snp, Page(2)).Page(0x1000, Snp, Page(1)), ["--platform", "snp"], "header #2 (IGVM_VHT_PAGE_DATA) at offset 0x"),
        ["vcpus-without-vmsa"] = (() => new B().Platform(Snp, B.SevSnp).Page(0x1000, Snp, Page(1)).Vp(VmsaGpa, Snp, Page(2)), ["--platform", "snp", "--vcpus", "2"], "2 vCPU(s), but no IGVM_VHT_VP_CONTEXT for VP 1"),
        ["no-vmsa"] = (() => new B().Platform(Snp, B.SevSnp).Page(0x1000, Snp, Page(1)), ["--platform", "snp"], "1 vCPU(s), but no IGVM_VHT_VP_CONTEXT for VP 0"),
        ["native-zero-on-tdx"] = (() => new B().Platform(Tdx, B.Tdx).Page(0x1000, Tdx, Page(1)), ["--platform", "tdx", "--profile", "igvm-native-zero"], "--profile: 'igvm-native-zero' is not one of"),
        ["no-platform-option"] = (() => new B().Platform(Tdx, B.Tdx).Page(0x1000, Tdx, Page(1)), [], "give --platform snp or --platform tdx"),
    };

    public static TheoryData<string> Refused => [.. RefusedCases.Keys];

    [Theory]
    [MemberData(nameof(Refused))]
    public void Refused_IsExit2_NamingTheHeader(string name)
    {
        var (build, options, message) = RefusedCases[name];
        using var dir = new TempDir();
        string path = Write(dir, build().Build());
        var result = CliRunner.Run(["measure", path, .. options]);
        Assert.True(result.Exit == 2, $"{name}: exit {result.Exit}: {result.Stdout}{result.Stderr}");
        Assert.Contains(message.Replace("guest.igvm", path, StringComparison.Ordinal), result.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Stdout);
    }
}

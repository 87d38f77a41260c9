using System.Text.Json;
using CocoLaunch.Tests.Shared;
using B = CocoLaunch.Tests.Shared.IgvmFileBuilder;

namespace CocoLaunch.Cli.Tests;

/// <summary>`inspect FILE.igvm`: told by the magic whatever the file's name, every header listed, malformed files exit 2 in one line.</summary>
public sealed class InspectIgvmTests : IDisposable
{
    private readonly TempDir dir = new();

    private static B Sample() => new B().Platform(1, B.SevSnp).Platform(2, B.Tdx)
        .Policy(0x30000, 1)
        .Area(0x1000, 0).Parameter(B.CommandLine, 0).Insert(0x8000, 1 | 2, 0)
        .Page(0x1000, 1 | 2, new byte[4096]).Page(0x2000, 1, flags: B.FlagUnmeasured).Page(0x3000, 2, flags: B.FlagShared)
        .Vp(0xFFFF_FFFF_F000, 1, new byte[4096])
        .Header(0x8000_0399, new byte[8]);

    [Fact]
    public void Text_ListsPlatformsHeadersAndPages()
    {
        string path = dir.Write("guest.bin", Sample().Build());
        var r = CliRunner.Run("inspect", path);
        Assert.Equal(0, r.Exit);
        Assert.Contains("format:   version 1, x64", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("mask 0x1  sev-snp", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("headers (11):", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("IGVM_VHT_PAGE_DATA  [sev-snp|tdx]  gpa=0x1000", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("IGVM_VHT_COMMAND_LINE  parameterAreaIndex=0x0 byteOffset=0x0", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("type 0x399 (may ignore)", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("sev-snp  2 pages (0x2000 bytes): 1 measured, 1 unmeasured, 0 shared", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("tdx      2 pages (0x2000 bytes): 1 measured, 0 unmeasured, 1 shared", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_HasEveryHeaderWithItsPlatforms()
    {
        string path = dir.Write("guest.igvm", Sample().Build());
        var r = CliRunner.Run("inspect", path, "--format", "json");
        Assert.Equal(0, r.Exit);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(1, root.GetProperty("fixedHeader").GetProperty("version").GetInt32());
        Assert.Equal(["sev-snp", "tdx"], root.GetProperty("platforms").EnumerateArray().Select(p => p.GetProperty("platform").GetString()));
        var headers = root.GetProperty("headers").EnumerateArray().ToList();
        Assert.Equal(11, headers.Count);
        var page = headers[6];
        Assert.Equal("IGVM_VHT_PAGE_DATA", page.GetProperty("type").GetString());
        Assert.Equal(["sev-snp", "tdx"], page.GetProperty("platforms").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal("0x1000", page.GetProperty("fields").GetProperty("gpa").GetString());
        Assert.True(headers[^1].GetProperty("mayIgnore").GetBoolean());
        var snp = root.GetProperty("summary")[0];
        Assert.Equal((2, 1, 1, 0), (snp.GetProperty("pages").GetInt32(), snp.GetProperty("measured").GetInt32(), snp.GetProperty("unmeasured").GetInt32(), snp.GetProperty("shared").GetInt32()));
    }

    [Fact]
    public void Malformed_IsExit2WithOneLineNamingHeaderAndOffset()
    {
        var b = Sample();
        long page = b.HeaderOffsets()[7];
        string path = dir.Write("bad.igvm", b.Build(f => f[page + 8] = 0x10)); // the second page's GPA: 0x2010
        var r = CliRunner.Run("inspect", path);
        Assert.Equal(2, r.Exit);
        Assert.Equal($"cocolaunch: {path}: igvm: header #7 (IGVM_VHT_PAGE_DATA) at offset 0x{page + 8:x}: gpa 0x2010 is not 4 KiB aligned", r.ErrorLine);
        Assert.Empty(r.Stdout);
    }

    [Fact]
    public void Truncated_IsExit2()
    {
        byte[] file = Sample().Build();
        string path = dir.Write("cut.igvm", file[..100]);
        var r = CliRunner.Run("inspect", path, "--format", "json");
        Assert.Equal(2, r.Exit);
        Assert.Equal($"cocolaunch: {path}: igvm: fixed header at offset 0x10: total_file_size 0x{file.Length:x} is not the file's size 0x64", r.ErrorLine);
    }

    [Fact]
    public void VarsOrPlatform_AreRefusedForIgvm()
    {
        string path = dir.Write("guest.igvm", Sample().Build());
        Assert.Equal(2, CliRunner.Run("inspect", path, "--platform", "snp").Exit);
        Assert.Contains("--vars: not used with an IGVM file", CliRunner.Run("inspect", path, "--vars", path).ErrorLine, StringComparison.Ordinal);
    }

    public void Dispose() => dir.Dispose();
}

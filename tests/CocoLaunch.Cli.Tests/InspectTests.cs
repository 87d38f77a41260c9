using System.Text.Json;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>`inspect` on the vendored Debian OVMF; expected rows are tdx-mrtd.md §5 and snp-launch-digest.md §3.2.</summary>
public sealed class InspectTests
{
    private static readonly string[] TdxTable =
    [
        "  #  type     data-offset  raw-size  gpa         memory-size  attributes",
        "  0  BFV      0x20000      0x1e0000  0xffe20000  0x1e0000     0x1 MR.EXTEND",
        "  1  CFV      0x0          0x20000   0xffe00000  0x20000      0x0 -",
        "  2  TempMem  0x0          0x0       0x810000    0x10000      0x0 -",
        "  3  TempMem  0x0          0x0       0x80b000    0x2000       0x0 -",
        "  4  TD_HOB   0x0          0x0       0x809000    0x2000       0x0 -",
        "  5  TempMem  0x0          0x0       0x800000    0x6000       0x0 -",
    ];

    private static readonly string[] SevTable =
    [
        "SEV metadata: offset 0x1ffad4, 5 sections",
        "  #  gpa       size     type",
        "  0  0x800000  0x9000   SNP_SEC_MEM",
        "  1  0x80a000  0x3000   SNP_SEC_MEM",
        "  2  0x80d000  0x1000   SNP_SECRETS",
        "  3  0x80e000  0x1000   CPUID",
        "  4  0x80f000  0x11000  SNP_SEC_MEM",
        "AP reset EIP: 0x80b004",
        "SEV hash table: none (base 0x0, size 0x0)",
        "SEV launch secret: none (base 0x0, size 0x0)",
    ];

    [Fact]
    public void Inspect_OvmfFd_ListsTheSixTdxSectionsAndSevMetadata()
    {
        var result = CliRunner.Run("inspect", RepoPaths.OvmfFd);
        Assert.Equal((0, string.Empty), (result.Exit, result.Stderr));
        string[] lines = Lines(result.Stdout);
        int tdx = Array.IndexOf(lines, "TDX metadata: TDVF descriptor at offset 0x1ff7c0 (found through the OVMF GUID table), version 1, 6 sections");
        Assert.True(tdx > 0, result.Stdout);
        Assert.Equal(TdxTable, lines[(tdx + 1)..(tdx + 8)]);
        int sev = Array.IndexOf(lines, SevTable[0]);
        Assert.Equal(SevTable, lines[sev..(sev + SevTable.Length)]);
        Assert.Contains("sha256:   7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773", lines);
        Assert.Contains("OVMF GUID table: offset 0x1fff58, 136 bytes, 5 entries", lines);
        Assert.Contains("  0x1fffb8  4      00f771de-1a7e-4fcb-890e-68c77e2fb44e  SEV-ES reset block   AP reset EIP 0x80b004", lines);
    }

    [Fact]
    public void Inspect_SpecFile_ShowsItsFirmware()
    {
        var viaSpec = CliRunner.Run("inspect", RepoPaths.LaunchSpec("tdx-split.yaml"));
        var direct = CliRunner.Run("inspect", RepoPaths.OvmfFd);
        Assert.Equal(0, viaSpec.Exit);
        Assert.Equal(Lines(direct.Stdout)[2..], Lines(viaSpec.Stdout)[2..].Select(l => l.Replace(", of which vars 0x20000", string.Empty, StringComparison.Ordinal)));
    }

    [Fact]
    public void Inspect_SpecFileWithVarsOption_IsAUsageError()
    {
        var result = CliRunner.Run("inspect", RepoPaths.LaunchSpec("tdx.yaml"), "--vars", RepoPaths.OvmfVarsFd);
        Assert.Equal((2, "cocolaunch: --vars: not allowed with a launch spec, which names its own vars file (firmware.vars)"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Inspect_Json_CarriesSectionsResetEipAndHashTable()
    {
        var result = CliRunner.Run("inspect", RepoPaths.OvmfFd, "--format", "json");
        Assert.Equal(0, result.Exit);
        using var doc = JsonDocument.Parse(result.Stdout);
        var root = doc.RootElement;
        Assert.Equal("0xffe00000", root.GetProperty("loadAddress").GetString());
        var sections = root.GetProperty("tdx").GetProperty("sections").EnumerateArray().ToList();
        Assert.Equal(["BFV", "CFV", "TempMem", "TempMem", "TD_HOB", "TempMem"], sections.Select(s => s.GetProperty("typeName").GetString()));
        Assert.Equal(["0xffe20000", "0xffe00000", "0x810000", "0x80b000", "0x809000", "0x800000"], sections.Select(s => s.GetProperty("gpa").GetString()));
        Assert.Equal("0x1e0000", sections[0].GetProperty("rawDataSize").GetString());
        Assert.Equal("MR.EXTEND", sections[0].GetProperty("attributeNames").GetString());
        var sev = root.GetProperty("sev");
        Assert.Equal("0x80b004", sev.GetProperty("apResetEip").GetString());
        Assert.Equal(5, sev.GetProperty("sections").GetArrayLength());
        Assert.Equal("0x0", sev.GetProperty("hashTable").GetProperty("base").GetString());
        Assert.Equal(5, root.GetProperty("guidTable").GetProperty("entries").GetArrayLength());
    }

    [Fact]
    public void Inspect_JsonOfOvmfCode_ReportsTheTdxErrorInPlace()
    {
        var result = CliRunner.Run("inspect", RepoPaths.OvmfCodeFd, "--format", "json");
        Assert.Equal(2, result.Exit);
        using var doc = JsonDocument.Parse(result.Stdout);
        var error = doc.RootElement.GetProperty("tdx").GetProperty("error");
        Assert.Equal("0x1df7d0", error.GetProperty("offset").GetString());
        Assert.StartsWith("TDX section #0 (BFV) data [0x20000,0x200000) lies beyond the end of the file", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_Unordered_ShowsHashTablePlacementAndUnknownEntry()
    {
        var result = CliRunner.Run("inspect", RepoPaths.Synthetic("unordered.fd"));
        Assert.Equal(0, result.Exit);
        string[] lines = Lines(result.Stdout);
        Assert.Contains("SEV hash table: base 0x80e400, size 0x400, in SEV section #2 (SNP_KERNEL_HASHES) at page offset 0x400", lines);
        Assert.Contains("  0x17ff7f  13     c0c01a0c-5e5f-4d2b-8a61-73796e746831  unknown              73796e7468657469632d313300", lines);
        Assert.Contains("AP reset EIP: 0x810f0c", lines);
        Assert.Contains("TDX metadata: none", lines);
    }

    private static string[] Lines(string text) => text.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
}

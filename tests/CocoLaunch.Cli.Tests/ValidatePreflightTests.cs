using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// `validate` is the preflight of `measure`: whatever measure would refuse before its first ioctl, validate refuses
/// first, at the spec's line and column; and what validate accepts, measure launches.
/// </summary>
public sealed class ValidatePreflightTests
{
    private const string DebianMrtd = "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47";

    private static string TdxSpec(TempDir dir, string memory) =>
        dir.Write("s.yaml", $"platform: tdx\nfirmware: {RepoPaths.OvmfFd}\nvcpus: 1\nmemory:{memory}\n");

    [Theory]
    [InlineData(" 4M", "TDX section #2 (TempMem) at GPA [0x810000,0x820000) lies outside guest RAM ([0x0,0x400000))")]
    [InlineData(" 8M", "TDX section #2 (TempMem) at GPA [0x810000,0x820000) lies outside guest RAM ([0x0,0x800000))")]
    [InlineData(" { slots: [ { gpa: 0x0, size: 0x809000, kind: private } ] }", "TDX section #2 (TempMem) at GPA [0x810000,0x820000) lies outside guest RAM ([0x0,0x809000))")]
    public void Validate_RamTooSmallForTheTdvfSections_IsRefusedAsMeasureRefusesIt(string memory, string problem)
    {
        using var dir = new TempDir();
        string spec = TdxSpec(dir, memory);
        var validate = CliRunner.Run("validate", spec);
        Assert.Equal((2, $"cocolaunch: {spec}:2:11: firmware: {problem}; give more memory or fix the firmware's metadata"), (validate.Exit, validate.ErrorLine));
        var measure = CliRunner.Run("measure", spec);
        Assert.Equal((2, $"cocolaunch: {spec}: {problem}; give more memory or fix the firmware's metadata"), (measure.Exit, measure.ErrorLine));
    }

    [Fact]
    public void Validate_TdvfSectionInASharedSlot_IsRefused()
    {
        // measure used to get as far as KVM_TDX_INIT_MEM_REGION: "EINVAL: gpa 0x810000 is not PRIVATE".
        using var dir = new TempDir();
        string spec = TdxSpec(dir, " { slots: [ { gpa: 0x0, size: 2G, kind: shared } ] }");
        var validate = CliRunner.Run("validate", spec);
        Assert.Equal(2, validate.Exit);
        Assert.StartsWith($"cocolaunch: {spec}:2:11: firmware: TDX section #2 (TempMem) at GPA [0x810000,0x820000) lies in the shared memory slot [0x0,0x80000000); ", validate.ErrorLine, StringComparison.Ordinal);
        Assert.Equal(2, CliRunner.Run("measure", spec).Exit);
    }

    [Theory]
    [InlineData("0x80a000")] // inside the TD_HOB section [0x809000,0x80b000)
    [InlineData("0x808000")] // between sections
    [InlineData("0x801000")] // inside TempMem [0x800000,0x806000)
    public void Validate_TwoContiguousPrivateSlotsSplitInsideTheTdvfRange_AreOneRamRange(string split)
    {
        using var dir = new TempDir();
        ulong at = Convert.ToUInt64(split, 16);
        string spec = TdxSpec(dir, $" {{ slots: [ {{ gpa: 0x0, size: {split}, kind: private }}, {{ gpa: {split}, size: 0x{0x8000_0000 - at:x}, kind: private }} ] }}");
        string whole = dir.Write("whole.yaml", $"platform: tdx\nfirmware: {RepoPaths.OvmfFd}\nvcpus: 1\nmemory: 2G\n");

        var validate = CliRunner.Run("validate", spec);
        Assert.Equal((0, string.Empty), (validate.Exit, validate.Stderr));
        var measure = CliRunner.Run("measure", spec);
        Assert.Equal((0, DebianMrtd), (measure.Exit, measure.Stdout.Trim()));

        // The TD HOB (RTMR0's first event) is the one of the same RAM in one slot.
        var json = CliRunner.Run("measure", spec, "--output-format", "json");
        var wholeJson = CliRunner.Run("measure", whole, "--output-format", "json");
        Assert.Equal(0, json.Exit);
        Assert.Equal(Rtmr0Events(wholeJson.Stdout), Rtmr0Events(json.Stdout));
    }

    private static string Rtmr0Events(string json)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("rtmr0LaunchEvents").GetRawText();
    }

    [Theory]
    [InlineData("16T", "5:9: memory: 16 TiB puts 16382 GiB above 4 GiB in one memslot, more than the 0x7fffffff pages (8 TiB less 4 KiB) KVM allows in a memslot (KVM_MEM_MAX_NR_PAGES)")]
    [InlineData("1P", "5:9: memory: 1 PiB is more than the 64 TiB of guest RAM the launcher maps")]
    [InlineData("65T", "5:9: memory: 65 TiB is more than the 64 TiB of guest RAM the launcher maps")]
    [InlineData(" { slots: [ { gpa: 0x100000000, size: 9T, kind: private } ] }", "6:40: memory.slots[0].size: 9 TiB is more than the 0x7fffffff pages (8 TiB less 4 KiB) KVM allows in a memslot (KVM_MEM_MAX_NR_PAGES)")]
    [InlineData(" { size: 1P, slots: [ { gpa: 0x100000000, size: 7T, kind: private } ] }", "6:11: memory.size: 1 PiB is more than the 64 TiB of guest RAM the launcher maps")]
    public void Validate_MemoryBeyondKvmLimits_IsRefusedNamingTheLimit(string memory, string problem)
    {
        using var dir = new TempDir();
        string spec = dir.Write("s.yaml", $"platform: tdx\nfirmware: {RepoPaths.OvmfFd}\nvcpus: 1\n\nmemory:{(memory.StartsWith(' ') ? "\n " + memory : " " + memory)}\n");
        foreach (string verb in new[] { "validate", "measure" })
        {
            var result = CliRunner.Run(verb, spec);
            Assert.Equal(2, result.Exit);
            Assert.StartsWith($"cocolaunch: {spec}:{problem}", result.ErrorLine, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("0x800000000000")]
    [InlineData("0x7fffc0000000")] // ends 1 GiB past the shared bit
    public void Validate_TdxSlotAtTheSharedBit_IsRefusedAtItsGpa(string gpa)
    {
        // validate and measure accepted it; launch failed at pre-fault: "EINVAL: gpa 0x800000000000 has the shared bit 47 set".
        using var dir = new TempDir();
        string spec = dir.Write("s.yaml", $"platform: tdx\nfirmware: {RepoPaths.OvmfFd}\nmemory:\n  slots:\n    - {{ gpa: 0x0, size: 2G, kind: private }}\n    - {{ gpa: {gpa}, size: 2G, kind: private }}\n");
        foreach (string verb in new[] { "validate", "measure", "launch" })
        {
            var result = CliRunner.Run(verb, spec);
            Assert.Equal(2, result.Exit);
            Assert.StartsWith($"cocolaunch: {spec}:6:14: memory.slots[1]: [{gpa},", result.ErrorLine, StringComparison.Ordinal);
            Assert.Contains("reaches GPA bit 47, the shared bit of a TD", result.ErrorLine, StringComparison.Ordinal);
        }
    }
}

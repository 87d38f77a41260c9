using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// Every file a user names is read through one bounded reader: a device or a FIFO is refused by name (exit 2)
/// before it is opened, so /dev/zero never reads without end and a FIFO never blocks.
/// </summary>
public sealed class InputFileTests
{
    [Fact]
    public void Validate_InitrdIsADevice_ExitsTwoNamingTheKey()
    {
        using var dir = new TempDir();
        string kernel = dir.Write("vmlinuz", new byte[4096]);
        string spec = dir.Write("dev.yaml", $"platform: sev\nfirmware: {RepoPaths.OvmfFd}\nmemory: 1G\nkernel: {kernel}\ninitrd: /dev/urandom\n");

        var result = CliRunner.Run("validate", spec);

        Assert.Equal((2, $"cocolaunch: {spec}:5:9: initrd: '/dev/urandom' is a character device, not a regular initrd file"), (result.Exit, result.ErrorLine));
    }

    [Theory]
    [InlineData("validate", "{DEV}")]
    [InlineData("measure", "{DEV}")]
    [InlineData("boot", "{DEV}")]
    [InlineData("diff", "{DEV}", "{DEV}")]
    [InlineData("verify-evidence", "{DEV}", "--root", "{DEV}")]
    [InlineData("verify", "{TDX}", "--reference-values", "{DEV}")]
    [InlineData("verify-evidence", "{EVIDENCE}", "--root", "{DEV}")]
    [InlineData("id-block", "--measurement", "{DIGEST}", "--id-key", "{DEV}")]
    public void AnyInput_DevZero_ExitsTwoNamingTheDevice(params string[] args)
    {
        using var dir = new TempDir();
        string evidence = dir.Write("report.bin", [2, .. new byte[0x49F]]); // an SNP report's version, so the root is read next
        string[] expanded = [.. args.Select(a => a
            .Replace("{DEV}", "/dev/zero", StringComparison.Ordinal)
            .Replace("{TDX}", RepoPaths.LaunchSpec("tdx.yaml"), StringComparison.Ordinal)
            .Replace("{EVIDENCE}", evidence, StringComparison.Ordinal)
            .Replace("{DIGEST}", new string('a', 96), StringComparison.Ordinal))];

        var result = CliRunner.Run(expanded);

        Assert.Equal(2, result.Exit);
        Assert.StartsWith("cocolaunch: ", result.ErrorLine, StringComparison.Ordinal);
        Assert.Matches(@"/dev/zero'?:? is a character device, not a regular [a-z -]+ file$", result.ErrorLine);
    }

    [Fact]
    public void Validate_Fifo_ExitsTwoWithoutBlocking()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using var dir = new TempDir();
        string fifo = Path.Combine(dir.Path, "spec.yaml");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
        {
            mkfifo.WaitForExit();
        }

        var result = CliRunner.Run("validate", fifo);

        Assert.Equal((2, $"cocolaunch: {fifo}: is a FIFO (named pipe), not a regular launch spec file"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Validate_SpecLargerThanTheLimit_ExitsTwoNamingTheLimit()
    {
        using var dir = new TempDir();
        string spec = dir.Write("big.yaml", "# " + new string('x', (1 << 20) + 10) + "\n");

        var result = CliRunner.Run("validate", spec);

        Assert.Equal((2, $"cocolaunch: {spec}: launch spec is larger than 1 MiB, the most CocoLaunch reads"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Validate_SpecNotUtf8_ExitsTwoNamingTheOffset()
    {
        using var dir = new TempDir();
        string spec = dir.Write("latin1.yaml", [.. "platform: t"u8, 0xE9, .. "dx\n"u8]);

        var result = CliRunner.Run("validate", spec);

        Assert.Equal((2, $"cocolaunch: {spec}: launch spec is not UTF-8 text (invalid byte 0xe9 at offset 11)"), (result.Exit, result.ErrorLine));
    }
}

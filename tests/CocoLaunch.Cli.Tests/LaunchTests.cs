using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>`launch --stop-after prefault --dump-stage2` on the shipped specs: the stage-2 dump users and tests read.</summary>
public sealed class LaunchTests
{
    [Fact]
    public void Launch_DefaultSpecOn1GPages_Maps1GLeavesAndFirmwareAt4K()
    {
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("default.yaml"), "--stop-after", "prefault", "--dump-stage2");
        Assert.Equal((0, string.Empty), (result.Exit, result.Stderr));
        Assert.Equal(
            [
                "memslot 0: [0x0,0x80000000) shared",
                "memslot 1: [0x100000000,0x180000000) shared",
                "memslot 2: [0xffe00000,0x100000000) shared firmware",
                "pages_4k: 512",
                "pages_2m: 0",
                "pages_1g: 4",
                "[0x0,0x80000000) 1G x2 shared",
                "[0xffe00000,0x100000000) 4K x512 shared",
                "[0x100000000,0x180000000) 1G x2 shared",
            ],
            Lines(result.Stdout));
    }

    [Fact]
    public void Launch_DefaultSpecOnThp_Maps2MLeaves()
    {
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("default-thp.yaml"), "--stop-after", "prefault", "--dump-stage2");
        Assert.Equal(0, result.Exit);
        Assert.Equal(["pages_4k: 512", "pages_2m: 512", "pages_1g: 0", "[0x0,0x40000000) 2M x512 shared"], Lines(result.Stdout)[2..6]);
    }

    [Fact]
    public void Launch_SwProtected_PrivateSlotAt4KSharedSlotAt2M()
    {
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("sw-protected.yaml"), "--stop-after", "prefault", "--dump-stage2");
        Assert.Equal(0, result.Exit);
        Assert.Equal(
            ["pages_4k: 262656", "pages_2m: 512", "pages_1g: 0", "[0x0,0x40000000) 4K x262144 private", "[0x40000000,0x80000000) 2M x512 shared", "[0xffe00000,0x100000000) 4K x512 shared"],
            Lines(result.Stdout)[3..]);
    }

    /// <summary>Issue 3's TDX dump: after KVM_TDX_FINALIZE_VM, private memory is pre-faulted with 4K leaves only, exactly the slots.</summary>
    [Fact]
    public void Launch_Tdx_Only4KPrivateLeavesExactlyCoveringTheSlots()
    {
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("tdx.yaml"), "--stop-after", "prefault", "--dump-stage2");
        Assert.Equal((0, string.Empty), (result.Exit, result.Stderr));
        Assert.Equal(
            [
                "memslot 0: [0x0,0x80000000) private",
                "memslot 1: [0xffe00000,0x100000000) private firmware",
                "pages_4k: 524800",
                "pages_2m: 0",
                "pages_1g: 0",
                "[0x0,0x80000000) 4K x524288 private",
                "[0xffe00000,0x100000000) 4K x512 private",
            ],
            Lines(result.Stdout));
    }

    [Fact]
    public void Launch_TdxStopAfterFinalize_OnlyTheTdvfSectionsAreMapped()
    {
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("tdx.yaml"), "--stop-after", "tdx-finalize", "--dump-stage2");
        Assert.Equal(0, result.Exit);

        // tdx-mrtd.md §5: TempMem 0x800000+0x6000, TD_HOB 0x809000+0x2000, TempMem 0x80B000+0x2000, TempMem 0x810000+0x10000, CFV+BFV 0xFFE00000+0x200000.
        Assert.Equal(
            [
                "pages_4k: 538",
                "pages_2m: 0",
                "pages_1g: 0",
                "[0x800000,0x806000) 4K x6 private",
                "[0x809000,0x80d000) 4K x4 private",
                "[0x810000,0x820000) 4K x16 private",
                "[0xffe00000,0x100000000) 4K x512 private",
            ],
            Lines(result.Stdout)[2..]);
    }

    [Fact]
    public void Launch_TdxStopAfterAttributes_SlotsPrivateNothingMapped()
    {
        var result = CliRunner.Run("launch", RepoPaths.LaunchSpec("tdx.yaml"), "--stop-after", "attributes", "--dump-stage2");
        Assert.Equal(0, result.Exit);
        Assert.Equal(
            ["memslot 0: [0x0,0x80000000) private", "memslot 1: [0xffe00000,0x100000000) private firmware", "pages_4k: 0", "pages_2m: 0", "pages_1g: 0"],
            Lines(result.Stdout));
    }

    [Fact]
    public void Launch_UnknownStep_ExitsTwoListingTheSteps()
    {
        string spec = RepoPaths.LaunchSpec("default.yaml");
        var result = CliRunner.Run("launch", spec, "--stop-after", "boot");
        Assert.Equal((2, $"cocolaunch: {spec}: --stop-after: no step 'boot' in the default launch (steps: create-vm, split-irqchip, create-vcpus, memslots, attributes, prefault)"), (result.Exit, result.ErrorLine));
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    [Fact]
    public void PlainVmWithFirmware_MoreThanOneVcpu_IsRefusedBeforeItsApsRunTheResetVector()
    {
        // On KVM an AP of a plain VM waits for the BSP's INIT-SIPI-SIPI; the model does not deliver those yet, and an
        // AP started at the reset vector beside the BSP ran OVMF's SEC twice and triple-faulted.
        using var dir = new TempDir();
        string spec = dir.Write("ovmf-2.yaml", $"platform: default\nfirmware: {RepoPaths.OvmfFd}\nvcpus: 2\nmemory: 1G\n");
        var result = CliRunner.Run("launch", spec);
        Assert.Equal((2, $"cocolaunch: {spec}: vcpus: a plain VM with firmware runs one vCPU for now (its APs wait for INIT-SIPI-SIPI, which is not emulated yet); set vcpus: 1"), (result.Exit, result.ErrorLine));
    }
}

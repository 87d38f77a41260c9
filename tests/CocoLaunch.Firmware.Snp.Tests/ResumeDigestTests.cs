using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Snp.Tests;

/// <summary>Resuming a launch digest computed elsewhere (the model behind --snp-ovmf-hash).</summary>
public sealed class ResumeDigestTests
{
    private static readonly byte[] Page = Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray();

    private static SnpGuestContext Started()
    {
        var context = new SnpGuestContext();
        context.LaunchStart(0x30000);
        return context;
    }

    [Fact]
    public void ResumingFromThePrefixDigest_EqualsMeasuringThePrefix()
    {
        var whole = Started();
        whole.LaunchUpdate(SnpPageType.Normal, new Gpa(0xFFFF_F000), Page);
        byte[] prefix = whole.LaunchDigest;
        whole.LaunchUpdate(SnpPageType.Zero, new Gpa(0x80_0000), new byte[4096]);

        var resumed = Started();
        resumed.ResumeDigest(prefix, new Gpa(0xFFFF_F000));
        resumed.LaunchUpdate(SnpPageType.Zero, new Gpa(0x80_0000), new byte[4096]);
        Assert.Equal(whole.LaunchFinish(), resumed.LaunchFinish());
        Assert.Equal("RESUME.PRECOMPUTED", resumed.Log.Operations[0].Operation);
    }

    [Fact]
    public void ResumeAfterAnUpdateOrWithAShortDigest_IsRefused()
    {
        var updated = Started();
        updated.LaunchUpdate(SnpPageType.Zero, new Gpa(0x80_0000), new byte[4096]);
        Assert.Equal(SnpStatus.InvalidGuestState, Assert.Throws<SnpFirmwareException>(() => updated.ResumeDigest(new byte[48], new Gpa(0))).Status);
        Assert.Equal(SnpStatus.InvalidParam, Assert.Throws<SnpFirmwareException>(() => Started().ResumeDigest(new byte[32], new Gpa(0))).Status);
        Assert.Equal(SnpStatus.InvalidGuestState, Assert.Throws<SnpFirmwareException>(() => new SnpGuestContext().ResumeDigest(new byte[48], new Gpa(0))).Status);
    }
}

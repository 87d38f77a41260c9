using CocoLaunch.Abi.Measurement;

namespace CocoLaunch.Abi.Tests;

public sealed class MeasurementLogTests
{
    [Fact]
    public void RunsOfLikeOperations_ReadBackOneOperationEach_InOrder()
    {
        var log = new MeasurementLog { Section = "BFV" };
        log.Append("MEM.PAGE.ADD", new Gpa(0x1000), 128);
        for (ulong c = 0; c < 16; c++)
        {
            log.Append("MR.EXTEND", new Gpa(0x1000 + (c * 256)), 384);
        }

        log.Append("MEM.PAGE.ADD", new Gpa(0x2000), 128);
        log.Append("MR.EXTEND", new Gpa(0x2000), 384);
        log.Append("MR.EXTEND", new Gpa(0x2300), 384); // a different stride breaks the run
        log.Append("MR.EXTEND", new Gpa(0x2400), 384);
        log.Section = "CFV";
        log.Append("MR.EXTEND", new Gpa(0x2500), 384); // so does a new section

        var ops = log.Operations;
        Assert.Equal(22, log.Count);
        Assert.Equal(22, ops.Count);
        Assert.Equal(Enumerable.Range(0, 22).Select(i => (long)i), ops.Select(o => o.Sequence));
        Assert.Equal(Enumerable.Range(0, 16).Select(c => 0x1000UL + ((ulong)c * 256)), ops.Skip(1).Take(16).Select(o => o.Gpa.Value));
        Assert.Equal(new ulong[] { 0x2000, 0x2000, 0x2300, 0x2400, 0x2500 }, ops.Skip(17).Select(o => o.Gpa.Value));
        Assert.Equal(["BFV", "BFV", "BFV", "BFV", "CFV"], ops.Skip(17).Select(o => o.Section));
        Assert.Equal((2 * 128) + (20 * 384), log.TotalBytesHashed);
        Assert.Equal((2, 20), (log.CountOf("MEM.PAGE.ADD"), log.CountOf("MR.EXTEND")));
    }

    [Fact]
    public void RepeatedGpa_IsNotARun()
    {
        // Every SNP VMSA is measured at the same GPA: each must still read back as its own operation.
        var log = new MeasurementLog();
        for (int i = 0; i < 3; i++)
        {
            log.Append("UPDATE.VMSA", new Gpa(0xFFFF_FFFF_F000), 4208);
        }

        Assert.Equal(Enumerable.Repeat(0xFFFF_FFFF_F000UL, 3), log.Operations.Select(o => o.Gpa.Value));
    }
}

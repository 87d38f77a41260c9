using CocoLaunch.Attestation.Tdx;
using CocoLaunch.Attestation.Tdx.Collateral;

namespace CocoLaunch.Attestation.Tests;

/// <summary>
/// The TD 1.5 relaunch rule of Intel's Quote Verification Library (TDRelaunchCheck.cpp), which no public collateral
/// triggers: a real v5 quote (dcap-qvl's, TEE_TCB_SVN 07.01.03, TEE_TCB_SVN2 0d.01.03) against TCB info built here
/// whose newest level its platform reaches but whose module identity calls ISV SVN 7 out of date.
/// </summary>
public sealed class TdxTcbEvaluationTests
{
    private static readonly DateTimeOffset Date = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static TcbInfo Info(int newestModuleSvn)
    {
        var module = new TdxModuleIdentity("TDX_01", new byte[48], new byte[8], new byte[8],
            [new IsvSvnLevel(newestModuleSvn, Date, TcbStatus.UpToDate, []), new IsvSvnLevel(7, Date, TcbStatus.OutOfDate, ["INTEL-SA-00000"])]);
        byte[] tdx = new byte[16];
        tdx[2] = 3;
        return new TcbInfo("TDX", 3, Date, Date, Convert.FromHexString("90c06f000000"), new byte[2], 18, null, [module],
            [new TcbLevel(new byte[16], 0, tdx, Date, TcbStatus.UpToDate, [])]);
    }

    private static TcbVerdict Evaluate(TcbInfo info)
    {
        var quote = RealEvidence.Quote("tdx-dcap-qvl/quote-outdated.bin");
        return TdxTcbEvaluation.Evaluate(info, PckExtensions.Read(quote.PckChain("q")[0], out _)!, quote, null);
    }

    [Fact]
    public void AnOutOfDateModule_WhoseReplacementReachesTheNewestLevel_IsAdvisedToRelaunch()
    {
        var verdict = Evaluate(Info(newestModuleSvn: 13));
        Assert.Equal((TcbStatus.TdRelaunchAdvised, "INTEL-SA-00000"), (verdict.Status, string.Join(",", verdict.Advisories)));
    }

    [Fact]
    public void AnOutOfDateModule_WhoseReplacementIsStillBehind_IsOutOfDate()
    {
        var verdict = Evaluate(Info(newestModuleSvn: 14));
        Assert.Equal(TcbStatus.OutOfDate, verdict.Status);
        Assert.EndsWith("TDX module TDX_01 ISV SVN 7: level of 2025-01-01 (OutOfDate)", verdict.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(TcbStatus.OutOfDate, TcbStatus.OutOfDate)]
    [InlineData(TcbStatus.Revoked, TcbStatus.Revoked)]
    [InlineData(TcbStatus.UpToDate, TcbStatus.UpToDate)]
    public void AnUpToDatePlatform_TakesTheQesStatus_WhenItIsWorse(string qe, string expected)
    {
        // Intel's convergeTcbStatusWithQeTcbStatus (TcbLevelCheck.cpp), on dcap-qvl's UpToDate sample and its collateral.
        var quote = RealEvidence.Quote("tdx-dcap-qvl/quote.bin");
        var info = TdxCollateralTests.DcapQvl("collateral.json").TcbInfo!;
        var verdict = TdxTcbEvaluation.Evaluate(info, PckExtensions.Read(quote.PckChain("q")[0], out _)!, quote, new IsvSvnLevel(4, Date, qe, []));
        Assert.Equal(expected, verdict.Status);
    }
}

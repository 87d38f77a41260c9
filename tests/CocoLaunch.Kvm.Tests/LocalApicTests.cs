namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// The in-kernel local APIC's registers. Expected values come from the Intel SDM vol. 3 ch. 11 (reset values in
/// §11.4.7, priorities in §11.8.3.1, the timer in §11.5.4, x2APIC in §11.12) and where KVM chooses, from
/// <c>arch/x86/kvm/lapic.c</c> (the version register, the 200 µs periodic floor, the register masks).
/// </summary>
public sealed class LocalApicTests
{
    private ulong now;

    private LocalApic Apic(uint id = 3)
    {
        var apic = new LocalApic(id, () => now, VcpuFd.DefaultTscKhz, bootstrap: id == 0);
        return apic;
    }

    private static uint Read(LocalApic apic, int offset) => apic.TryRead(offset, out uint v) ? v : throw new Xunit.Sdk.XunitException($"0x{offset:x} unreadable");

    private static LocalApic Enabled(LocalApic apic)
    {
        Assert.True(apic.TryWrite(LocalApic.Svr, 0x1FF));
        return apic;
    }

    [Fact]
    public void ResetValues_AsTheSdmAndKvmDefineThem()
    {
        var apic = Apic(3);
        Assert.Equal(3u << 24, Read(apic, LocalApic.Id));
        Assert.Equal(0x0005_0014u, Read(apic, LocalApic.Version)); // lapic.c: APIC_VERSION 0x14, six LVT entries
        Assert.Equal(0xFFu, Read(apic, LocalApic.Svr)); // SDM §11.4.7: spurious vector 0xFF, APIC software-disabled
        Assert.Equal(0xFFFF_FFFFu, Read(apic, LocalApic.Dfr));
        foreach (int lvt in new[] { LocalApic.LvtTimer, LocalApic.LvtLint0, LocalApic.LvtLint1, LocalApic.LvtError })
        {
            Assert.Equal(0x1_0000u, Read(apic, lvt)); // masked
        }

        Assert.Equal(0xFEE0_0800UL, apic.BaseMsr); // enabled at 0xFEE00000, not the BSP
        Assert.Equal(0xFEE0_0900UL, Apic(0).BaseMsr);
        Assert.False(apic.Enabled);
    }

    [Fact]
    public void SoftwareDisabledApic_DropsInterrupts_AndMasksLvtWrites()
    {
        var apic = Apic();
        Assert.False(apic.Accept(0x40, false));
        Assert.True(apic.TryWrite(LocalApic.LvtTimer, 0x30));
        Assert.Equal(0x1_0030u, Read(apic, LocalApic.LvtTimer));
        Enabled(apic);
        Assert.True(apic.Accept(0x40, false));
        Assert.Equal(0x40, apic.PendingVector());
    }

    [Fact]
    public void Priorities_TprAndInService_GateDelivery_UntilEoi()
    {
        var apic = Enabled(Apic());
        apic.Accept(0x51, false);
        Assert.True(apic.TryWrite(LocalApic.Tpr, 0x50));
        Assert.Equal(-1, apic.PendingVector()); // class 5 is not above TPR class 5
        apic.TryWrite(LocalApic.Tpr, 0x40);
        Assert.Equal(0x51, apic.PendingVector());
        apic.Acknowledge(0x51);
        Assert.Equal(0x50u, Read(apic, LocalApic.Ppr)); // the in-service class is above TPR's
        Assert.Equal(1u << (0x51 - 0x40), Read(apic, LocalApic.Isr + (2 * 16)));
        apic.Accept(0x55, false);
        Assert.Equal(-1, apic.PendingVector()); // same class as the one in service
        apic.Accept(0x61, false);
        Assert.Equal(0x61, apic.PendingVector());
        Assert.True(apic.TryWrite(LocalApic.Eoi, 0));
        Assert.Equal(0x61, apic.PendingVector());
        Assert.Equal(0x40u, Read(apic, LocalApic.Ppr));
    }

    [Fact]
    public void IllegalVector_SetsEsrBit6_AndAnEsrWriteClearsIt()
    {
        var apic = Enabled(Apic());
        Assert.False(apic.Accept(15, false));
        Assert.Equal(0x40u, Read(apic, LocalApic.Esr));
        apic.TryWrite(LocalApic.Esr, 0);
        Assert.Equal(0u, Read(apic, LocalApic.Esr));
    }

    [Fact]
    public void LevelTriggeredEoi_IsReportedForTheIoapic_EdgeIsNot()
    {
        var apic = Enabled(Apic());
        apic.Accept(0x41, levelTriggered: true);
        apic.Acknowledge(0x41);
        apic.TryWrite(LocalApic.Eoi, 0);
        Assert.Equal(0x41, apic.PendingIoapicEoi);
        apic.PendingIoapicEoi = -1;
        apic.Accept(0x42, levelTriggered: false);
        apic.Acknowledge(0x42);
        apic.TryWrite(LocalApic.Eoi, 0);
        Assert.Equal(-1, apic.PendingIoapicEoi);
    }

    [Fact]
    public void SelfIpi_ThroughIcrShorthand_AndX2ApicSelfIpi()
    {
        var apic = Enabled(Apic());
        Assert.True(apic.TryWrite(LocalApic.IcrLow, (1 << 18) | 0x45)); // destination shorthand "self", fixed
        Assert.Equal(0x45, apic.PendingVector());
        Assert.Equal((1u << 18) | 0x45, Read(apic, LocalApic.IcrLow)); // delivery status idle

        var x2 = Enabled(Apic());
        Assert.True(x2.TrySetBase(0xFEE0_0C00));
        Assert.True(x2.TryWriteMsr(0x83F, 0x46));
        Assert.Equal(0x46, x2.PendingVector());
        Assert.True(x2.TryWriteMsr(0x830, (3UL << 32) | 0x4400 | 0x2)); // NMI to its own ID through the 64-bit ICR
        Assert.True(x2.NmiPending);
    }

    [Fact]
    public void X2Apic_IdLdrAndTheMsrFaultRules()
    {
        var apic = Apic(0x23);
        Assert.False(apic.TryReadMsr(0x802, out _)); // xAPIC mode: the x2APIC MSRs #GP
        Assert.False(apic.TrySetBase(0xFEE0_0400)); // EXTD without EN is invalid
        Assert.False(apic.TrySetBase(0xFEE0_0A00)); // bit 9 is reserved
        Assert.True(apic.TrySetBase(0xFEE0_0C00));
        Assert.True(apic.X2ApicMode);
        Assert.True(apic.TryReadMsr(0x802, out ulong id));
        Assert.Equal(0x23UL, id); // the full 32-bit ID
        Assert.True(apic.TryReadMsr(0x80D, out ulong ldr));
        Assert.Equal((2UL << 16) | (1UL << 3), ldr); // cluster ID[19:4] << 16 | 1 << ID[3:0] (SDM §11.12.10.2)
        Assert.False(apic.TryWriteMsr(0x802, 5)); // ID is read-only
        Assert.False(apic.TryReadMsr(0x80B, out _)); // EOI is write-only
        Assert.False(apic.TryReadMsr(0x80E, out _)); // no DFR in x2APIC mode
        Assert.False(apic.TryWriteMsr(0x808, 1UL << 32)); // bits 63:32 reserved outside ICR
        Assert.False(apic.TryWriteMsr(0x828, 1)); // a non-zero ESR write
        Assert.False(apic.TrySetBase(0xFEE0_0800)); // x2APIC → xAPIC without disabling first
        Assert.True(apic.TrySetBase(0xFEE0_0000));
        Assert.True(apic.TrySetBase(0xFEE0_0800));
    }

    [Fact]
    public void OneShotTimer_CountsDownAtTheDividedBusClock_AndFiresOnce()
    {
        var apic = Enabled(Apic());
        apic.TryWrite(LocalApic.TimerDivide, 0x1); // divide by 4
        apic.TryWrite(LocalApic.LvtTimer, 0x30);
        now = 1000;
        apic.TryWrite(LocalApic.TimerInitialCount, 500);
        Assert.Equal(1000UL + 2000, apic.TimerDeadline); // 500 × 4 bus cycles of 1 ns at 1 GHz
        now = 2000;
        Assert.Equal(250u, Read(apic, LocalApic.TimerCurrentCount));
        apic.Tick(2999);
        Assert.Equal(-1, apic.PendingVector());
        apic.Tick(3000);
        Assert.Equal(0x30, apic.PendingVector());
        Assert.Null(apic.TimerDeadline);
        Assert.Equal(0u, Read(apic, LocalApic.TimerCurrentCount));
    }

    [Fact]
    public void PeriodicTimer_IsStretchedTo200Microseconds_AndRearms()
    {
        var apic = Enabled(Apic());
        apic.TryWrite(LocalApic.TimerDivide, 0xB); // divide by 1
        apic.TryWrite(LocalApic.LvtTimer, (1 << 17) | 0x31);
        apic.TryWrite(LocalApic.TimerInitialCount, 10);
        Assert.Equal(200_000UL, apic.TimerDeadline);
        apic.Tick(200_000);
        Assert.Equal(400_000UL, apic.TimerDeadline);
        apic.Tick(1_000_001); // missed periods coalesce
        Assert.Equal(1_200_000UL, apic.TimerDeadline);
    }

    [Fact]
    public void TscDeadlineTimer_FiresAtTheDeadline_AndTheMsrReadsZeroAfter()
    {
        var apic = Enabled(Apic());
        apic.WriteTscDeadline(5000); // ignored outside TSC-deadline mode
        Assert.Null(apic.TimerDeadline);
        apic.TryWrite(LocalApic.LvtTimer, (2 << 17) | 0x32);
        apic.TryWrite(LocalApic.TimerInitialCount, 100); // ignored in TSC-deadline mode
        Assert.Null(apic.TimerDeadline);
        Assert.True(apic.TryWriteMsr(LocalApic.TscDeadlineMsr, 5000));
        Assert.True(apic.TryReadMsr(LocalApic.TscDeadlineMsr, out ulong armed));
        Assert.Equal(5000UL, armed);
        apic.Tick(4999);
        Assert.Equal(-1, apic.PendingVector());
        apic.Tick(5000);
        Assert.Equal(0x32, apic.PendingVector());
        Assert.Equal(0UL, apic.ReadTscDeadline());
    }

    [Fact]
    public void TimerModeChange_StopsTheTimerAndClearsTheCount()
    {
        var apic = Enabled(Apic());
        apic.TryWrite(LocalApic.LvtTimer, 0x30);
        apic.TryWrite(LocalApic.TimerInitialCount, 1000);
        apic.TryWrite(LocalApic.LvtTimer, (1 << 17) | 0x30);
        Assert.Null(apic.TimerDeadline);
        Assert.Equal(0u, Read(apic, LocalApic.TimerInitialCount));
    }

    [Fact]
    public void Mmio_SubDwordReads_AndOnlyAlignedDwordWrites()
    {
        var apic = Apic(0x12);
        Assert.Equal(0x12UL, apic.ReadMmio(LocalApic.Id + 3, 1));
        Assert.Equal(0x14UL, apic.ReadMmio(LocalApic.Version, 1));
        apic.WriteMmio(LocalApic.Tpr, 2, 0x20); // not a 32-bit write: dropped
        Assert.Equal(0UL, apic.ReadMmio(LocalApic.Tpr, 4));
        apic.WriteMmio(LocalApic.Tpr, 4, 0x20);
        Assert.Equal(0x20UL, apic.ReadMmio(LocalApic.Tpr, 4));
    }

    [Fact]
    public void Destinations_PhysicalBroadcastAndFlatLogical()
    {
        var apic = Apic(2);
        Assert.True(apic.MatchesDestination(2, logical: false));
        Assert.True(apic.MatchesDestination(0xFF, logical: false));
        Assert.False(apic.MatchesDestination(1, logical: false));
        apic.TryWrite(LocalApic.Ldr, 0x0400_0000); // flat model (DFR all ones): logical ID bit 2
        Assert.True(apic.MatchesDestination(0x04, logical: true));
        Assert.False(apic.MatchesDestination(0x03, logical: true));
    }
}

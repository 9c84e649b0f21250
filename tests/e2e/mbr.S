/* Local-disk boot sector for the e2e tests (512 bytes, assembled at test time:
   as --32 mbr.S && ld -m elf_i386 -Ttext 0x7c00 --oformat binary).
   Prints PXEHOOK-LOCALDISK-OK on COM1 by port I/O only (SeaBIOS mirrors int 10h to the
   serial port, so printing both ways would interleave), then exits QEMU through
   isa-debug-exit (port 0xf4, QEMU exit status 67) if present, else halts. */
.code16
.globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %sp
    sti
    mov $msg, %si
next:
    lodsb
    test %al, %al
    jz done
    mov %al, %bl
    mov $0x3fd, %dx
wait_thr:
    in %dx, %al
    test $0x20, %al
    jz wait_thr
    mov $0x3f8, %dx
    mov %bl, %al
    out %al, %dx
    jmp next
done:
    mov $0xf4, %dx
    mov $0x21, %al
    out %al, %dx
halt:
    cli
    hlt
    jmp halt
msg:
    .asciz "\r\nPXEHOOK-LOCALDISK-OK booted from local disk MBR\r\n"
    .org 446
    .fill 64, 1, 0
    .word 0xaa55
